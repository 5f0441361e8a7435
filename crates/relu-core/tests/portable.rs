//! The kernel property tests of `kernels.rs` again, on the portable kernels: on CPUs with
//! AVX-512 the other test binary checks the hand-written versions, this one the plain-Rust ones
//! that every other CPU runs.

#[path = "kernels.rs"]
mod shared;
