//! Initial packet protection keys (RFC 9001 §5.2, RFC 9369 §3.3).
//!
//! These keys are public by design: anyone who sees the client's first Destination
//! Connection ID can derive them, so they protect against nothing but ossification
//! (RFC 9001 §5.2: "Initial packets ... are not protected against on-path attackers").
//! They open only the Initial packets, which carry the ClientHello and ServerHello; the
//! Handshake and 1-RTT keys come from the TLS key exchange and are never known here, so no
//! user data is decrypted.
//!
//! Crypto is `ring` (already linked through rustls): HKDF-SHA256, AES-128-GCM and the AES
//! header-protection mask of `ring::aead::quic`.

use ring::aead::{self, quic as hp, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

use super::version::Version;

/// An HKDF output length for `ring`.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &hkdf::Prk, label: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(6 + label.len()).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    let parts = [info.as_slice()];
    let okm = prk.expand(&parts, Len(len)).ok()?;
    let mut out = vec![0; len];
    okm.fill(&mut out).ok()?;
    Some(out)
}

/// The keys of one direction's Initial packets.
pub struct Keys {
    aead: LessSafeKey,
    iv: [u8; 12],
    hp: hp::HeaderProtectionKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<initial>)")
    }
}

/// Raw key material, for the test vectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Material {
    pub secret: Vec<u8>,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub hp: Vec<u8>,
}

/// Client and server Initial key material for `dcid`, the Destination Connection ID of
/// the client's first Initial packet.
pub fn material(version: &Version, dcid: &[u8]) -> Option<[Material; 2]> {
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, version.salt).extract(dcid);
    let side = |label: &[u8]| -> Option<Material> {
        let secret = expand_label(&initial, label, 32)?;
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        Some(Material {
            key: expand_label(&prk, version.key_label, 16)?,
            iv: expand_label(&prk, version.iv_label, 12)?,
            hp: expand_label(&prk, version.hp_label, 16)?,
            secret,
        })
    };
    Some([side(b"client in")?, side(b"server in")?])
}

impl Keys {
    fn new(m: &Material) -> Option<Keys> {
        Some(Keys {
            aead: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &m.key).ok()?),
            iv: m.iv.as_slice().try_into().ok()?,
            hp: hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).ok()?,
        })
    }

    /// Client (index 0) and server (index 1) keys.
    pub fn pair(version: &Version, dcid: &[u8]) -> Option<[Keys; 2]> {
        let [c, s] = material(version, dcid)?;
        Some([Keys::new(&c)?, Keys::new(&s)?])
    }

    /// The 5-byte header-protection mask for a 16-byte ciphertext sample (RFC 9001 §5.4.3).
    pub fn mask(&self, sample: &[u8]) -> Option<[u8; 5]> {
        self.hp.new_mask(sample).ok()
    }

    /// Opens a packet payload in place; returns the plaintext (RFC 9001 §5.3: the nonce is
    /// the IV XOR the packet number, the header is the associated data).
    pub fn open<'a>(&self, pn: u64, header: &[u8], payload: &'a mut [u8]) -> Option<&'a [u8]> {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *n ^= p;
        }
        let nonce = Nonce::assume_unique_for_key(nonce);
        self.aead
            .open_in_place(nonce, Aad::from(header), payload)
            .ok()
            .map(|p| &*p)
    }
}
