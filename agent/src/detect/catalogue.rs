//! Every finding Plainsight can raise, in one list.

use super::FindingDef;

/// All finding definitions, TLS first.
pub fn all() -> impl Iterator<Item = &'static FindingDef> {
    crate::tls::findings::DEFS
        .iter()
        .chain(crate::plaintext::findings::DEFS.iter())
        .chain(super::spike::DEFS.iter())
        .chain(crate::probe::DEFS.iter())
}

pub fn get(id: &str) -> Option<&'static FindingDef> {
    all().find(|d| d.id == id)
}
