//! Plaintext, STARTTLS and credential finding definitions.

use crate::detect::FindingDef;

pub static DEFS: &[FindingDef] = &[];
