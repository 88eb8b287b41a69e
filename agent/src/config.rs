//! Configuration and policy (TOML, validated; unknown keys are errors).

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {}
