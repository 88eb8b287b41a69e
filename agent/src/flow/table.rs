//! The bounded flow table.
