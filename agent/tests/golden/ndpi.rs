//! nDPI `ndpi/tests/cfgs/default/result/<pcap>.out`.
//!
//! One line per flow: `N  TCP a:p <-> b:p [proto: 91.126/TLS.Google][…]`.
//! Used: `Hostname/SNI` (TLS and QUIC lines), `User-Agent` (gQUIC lines), `(Advertised) ALPNs`,
//! `(Negotiated) ALPN`, the version token (`[TLSv1.2]`), `JA3C`, `JA3S`,
//! `Cipher`, `Issuer`, `Subject`, `Validity`, and the master protocol of
//! `proto:`. nDPI's JA4 is not used (the corpus README: wrong SNI flag, `ht`
//! for http/1.1, version `00`). The side nDPI lists first is not always the
//! client; the join ignores direction anyway. Flows with the same tuple are
//! ordered by their line position.

use crate::model::{map_protocol, records_to_expects, Expect, Field, FlowKey, Record, Source};

/// Top-level `[...]` tokens of a line.
fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => {
                if depth == 0 {
                    start = i + 1;
                }
                depth += 1;
            }
            ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(&s[start..i]);
                }
            }
            _ => {}
        }
    }
    out
}

fn endpoint(s: &str) -> Option<(String, String)> {
    let (ip, port) = s.rsplit_once(':')?;
    Some((
        ip.trim_start_matches('[').trim_end_matches(']').to_string(),
        port.to_string(),
    ))
}

pub fn parse(capture: &str, origin: &str, text: &str) -> Result<Vec<Expect>, String> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        // "<n>\t<PROTO> <a> <-> <b> [...]"
        let mut parts = t.splitn(2, '\t');
        let (Some(num), Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        if num.trim().parse::<u32>().is_err() {
            continue;
        }
        let words: Vec<&str> = rest.splitn(5, ' ').collect();
        if words.len() < 5 {
            continue;
        }
        let transport = match words[0] {
            "TCP" => Some("tcp"),
            "UDP" => Some("udp"),
            _ => continue,
        };
        if words[2] != "<->" && words[2] != "->" {
            continue;
        }
        let (Some((a, ap)), Some((b, bp))) = (endpoint(words[1]), endpoint(words[3])) else {
            continue;
        };
        let Some(flow) = FlowKey::parse(&a, &ap, &b, &bp) else {
            continue;
        };
        let mut r = Record::new(Some(flow), i as f64);
        r.transport = transport;
        let toks = tokens(words[4]);
        let is_tls = toks.iter().any(|k| {
            k.starts_with("TLSv")
                || k.starts_with("DTLSv")
                || k.starts_with("SSLv")
                || k.starts_with("JA3C:")
        });
        // gQUIC (Q046, Q050) lines name the CHLO's server name with no TLS token.
        let is_quic = toks.iter().any(|k| k.starts_with("QUIC ver:"));
        // nDPI also reports IETF QUIC's Google user-agent transport parameter, which we do
        // not read: only gQUIC's (Q0NN) is compared.
        let is_gquic = toks.iter().any(|k| k.starts_with("QUIC ver: Q"));
        for tok in toks {
            let (key, val) = match tok.split_once(": ") {
                Some((k, v)) => (k, v.trim()),
                None => (tok, ""),
            };
            match key {
                "proto" => {
                    // "91.126/TLS.Google" → "TLS"
                    let name = val.split_once('/').map(|x| x.1).unwrap_or(val);
                    let master = name.split('.').next().unwrap_or("");
                    if let Some(p) = map_protocol(master) {
                        r.push(Field::Protocol, p);
                    }
                }
                "Hostname/SNI" if is_tls || is_quic => r.push(Field::Sni, val),
                // HTTP lines have one too; only gQUIC's (its CHLO's UAID) is compared.
                "User-Agent" if is_gquic => r.push(Field::UserAgent, val),
                // nDPI separates ALPN values with `;` (or `,`).
                "(Advertised) ALPNs" => r.push(Field::Alpn, &val.replace(';', ",")),
                "(Negotiated) ALPN" => r.push(Field::AlpnSelected, val),
                "JA3C" => r.push(Field::Ja3, val.split_whitespace().next().unwrap_or("")),
                "JA3S" => r.push(Field::Ja3s, val.split_whitespace().next().unwrap_or("")),
                "Cipher" => r.push(Field::Cipher, val),
                "Issuer" => r.push(Field::CertIssuer, val),
                "Subject" => r.push(Field::CertSubject, val),
                "Validity" => {
                    if let Some((nb, na)) = val.split_once(" - ") {
                        r.push(Field::CertNotBefore, nb);
                        r.push(Field::CertNotAfter, na);
                    }
                }
                k if val.is_empty()
                    && (k.starts_with("TLSv")
                        || k.starts_with("DTLSv")
                        || k.starts_with("SSLv")) =>
                {
                    r.push(Field::Version, k)
                }
                _ => {}
            }
        }
        records.push(r);
    }
    Ok(records_to_expects(capture, origin, Source::Ndpi, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_lines_become_expectations() {
        let text = "Guessed flow protos:\t0\n\n\t1\tTCP 192.168.1.160:54804 <-> 151.101.66.49:443 [proto: 91.283/TLS.Cybersec][Hostname/SNI: feodotracker.abuse.ch][(Advertised) ALPNs: h2;http/1.1][(Negotiated) ALPN: http/1.1][TLSv1.2][JA3C: 2a26b1a62e40d25d4de3babc9d532f30][JA4: t12d6707ht_x_y][JA3S: ae53107a2e47ea20c72ac44821a728bf][Issuer: C=BE, O=GlobalSign nv-sa, CN=GlobalSign CloudSSL CA][Validity: 2019-11-19 01:31:22 - 2020-08-29 17:19:32][Cipher: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n\t2\tTCP [2001:db8::1]:80 -> [2001:db8::2]:5555 [proto: 7/HTTP][Hostname/SNI: plain.example][ClearText]\n";
        let e = parse("c", "o", text).unwrap();
        let vals: Vec<(Field, &str)> = e.iter().map(|x| (x.field, x.value.as_str())).collect();
        for want in [
            (Field::Protocol, "tls"),
            (Field::Sni, "feodotracker.abuse.ch"),
            (Field::Alpn, "h2,http/1.1"),
            (Field::AlpnSelected, "http/1.1"),
            (Field::Version, "TLS 1.2"),
            (Field::Ja3, "2a26b1a62e40d25d4de3babc9d532f30"),
            (Field::Ja3s, "ae53107a2e47ea20c72ac44821a728bf"),
            (Field::CertNotBefore, "1574127082"),
            (Field::Cipher, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            (Field::Protocol, "http"),
        ] {
            assert!(vals.contains(&want), "{want:?} not in {vals:?}");
        }
        assert!(!vals.contains(&(Field::Sni, "plain.example")));
        assert!(!vals.iter().any(|(f, _)| *f == Field::Ja4));
    }

    #[test]
    fn gquic_lines_give_their_sni() {
        // Shaped as ndpi/tests/cfgs/default/result/quic_q46.pcap.out: no TLS token.
        let text = "\t1\tUDP 172.29.42.236:38292 <-> 153.20.183.203:443 [proto: 188.126/QUIC.Google][Encrypted][Hostname/SNI: play.google.com][User-Agent: Chrome/74.0.3729.157 Android 8.0.0; BND-L21][QUIC ver: Q046][PLAIN TEXT (play.google.comL)]\n";
        let e = parse("c", "o", text).unwrap();
        let vals: Vec<(Field, &str)> = e.iter().map(|x| (x.field, x.value.as_str())).collect();
        assert!(vals.contains(&(Field::Sni, "play.google.com")), "{vals:?}");
        assert!(
            vals.contains(&(
                Field::UserAgent,
                "Chrome/74.0.3729.157 Android 8.0.0; BND-L21"
            )),
            "{vals:?}"
        );
        assert!(vals.contains(&(Field::Protocol, "quic")), "{vals:?}");
    }
}
