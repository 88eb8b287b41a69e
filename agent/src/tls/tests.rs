//! Session tests over real bytes.
