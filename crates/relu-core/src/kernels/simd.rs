//! The scalar building blocks the kernels' inner loops are written with.
//!
//! Inner loops are plain Rust over fixed-size arrays (so LLVM keeps accumulators in vector
//! registers), compiled several times by [`multiversion`] for AVX-512, AVX2+FMA and NEON, with
//! the best one picked at run time. Every kernel lists the same targets:
//! `"x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"`.

/// Lanes per accumulator in the dot-product kernels (one AVX-512 register).
pub(crate) const LANES: usize = 16;

/// `a·b + c`, fused when the clone being compiled has FMA (`fma` is a compile-time constant in
/// each multiversioned clone, so the branch disappears).
#[inline(always)]
pub(crate) fn madd(fma: bool, a: f32, b: f32, c: f32) -> f32 {
    if fma { a.mul_add(b, c) } else { a * b + c }
}

/// Sum of a lane accumulator, in a fixed order.
#[inline(always)]
pub(crate) fn hsum(acc: &[f32; LANES]) -> f32 {
    acc.iter().sum()
}
