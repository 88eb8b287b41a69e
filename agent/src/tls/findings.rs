//! TLS finding definitions.

use crate::detect::FindingDef;

pub static DEFS: &[FindingDef] = &[];
