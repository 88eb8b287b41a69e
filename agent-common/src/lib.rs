//! The kernel/userspace contract: `#[repr(C)]` types with fixed-width fields only.
#![no_std]
