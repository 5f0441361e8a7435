//! Hand-written AVX-512 versions of the hot sparse loops, chosen at run time.
//!
//! The portable kernels in `sparse.rs` are plain Rust that LLVM vectorizes, but for these loops
//! its choices were fragile: the same dot-product loop ran at full width alone and scalar once
//! inlined into its caller, and accumulators spilled to memory whenever a bounds check stayed
//! inside a loop. These versions pin the register blocking down with intrinsics:
//!
//! * [`forward_block`]: 64 output rows (four registers of accumulators) of `Z = W·S + b`, the
//!   input columns taken 64 at a time so the block's weights stay in L1 while every example of
//!   the batch reads its active columns there;
//! * [`column_step`]: one weight column against the δ columns of the examples where its unit
//!   fired: the dot products for the layer below (eight examples per pass, two accumulators per
//!   example to hide the FMA latency) and the optimiser step, in one pass when the unit fired in
//!   at most eight examples;
//! * [`column_dots`]: the dot products alone (the masked backward).
//!
//! Row counts that are not a multiple of 16 are handled with masked loads and stores, so there
//! is no scalar tail. This module and `matrix.rs` hold every `unsafe` block of the crate; each
//! public function checks the bounds its raw-pointer loop relies on before entering it.
//!
//! [`available`] is true on CPUs with AVX-512F unless [`super::use_portable_kernels`] was called;
//! the property tests run both paths.

use std::arch::x86_64::*;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::step::{MOMENTUM, PLAIN, StepRule};
use crate::matrix::MatMut;
use crate::sparse::SparseBatch;

/// Set by [`super::use_portable_kernels`].
pub(crate) static PORTABLE: AtomicBool = AtomicBool::new(false);

/// Whether the AVX-512 kernels are used.
#[inline]
pub(crate) fn available() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| is_x86_feature_detected!("avx512f")) && !PORTABLE.load(Ordering::Relaxed)
}

/// The smallest cache block of [`forward_block`]: 64 input columns of a 64-row block, 16 KB.
const MIN_COLUMN_BLOCK: usize = 64;
/// Active inputs per example and cache block that make a block worth its overhead (loading and
/// storing the accumulators): sparser batches take wider blocks.
const ENTRIES_PER_BLOCK: f32 = 24.0;

/// Mask of the first `n ≤ 16` lanes.
#[inline(always)]
fn tail_mask(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// Rows `row..row + height` (`height ≤ 64`) of `Z = W·S + b` for the examples `examples` of the
/// sparse batch `s`, written to rows `r..r + height` of `zb`; `bias` holds the block's `height`
/// biases. Blocks shorter than 64 rows (the last one of a thread's share) use masked loads and
/// stores and the same order of operations, so every element gets the same value either way.
///
/// # Panics
/// If `w` does not hold `s.units()` columns of `ld ≥ row + height` rows, `zb` is too small or
/// `height` is not in `1..=64`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_block(
    w: &[f32],
    ld: usize,
    row: usize,
    bias: &[f32],
    s: &SparseBatch,
    examples: std::ops::Range<usize>,
    cursors: &mut [usize],
    zb: &mut MatMut<'_>,
    r: usize,
) {
    let (offsets, indices, values, cols) = (s.offsets(), s.indices(), s.values(), s.units());
    let (batch, height) = (s.batch_size(), bias.len());
    assert!((1..=64).contains(&height), "forward_block: blocks have 1 to 64 rows");
    assert!(examples.start <= examples.end && examples.end <= batch, "forward_block: examples out of range");
    // `SparseBatch` guarantees that offsets are non-decreasing from 0 to `indices.len()`, that
    // `values` is as long as `indices`, and that every index is below `units()`: its fields are
    // private and every constructor builds or validates them.
    assert!(row + height <= ld && w.len() >= ld * cols, "forward_block: weights out of bounds");
    assert!(cursors.len() >= batch && zb.ncols() >= batch && r + height <= zb.nrows(), "forward_block: output out of bounds");
    cursors[examples.clone()].copy_from_slice(&offsets[examples.clone()]);
    let masks: [__mmask16; 4] = std::array::from_fn(|i| tail_mask(height.saturating_sub(16 * i).min(16)));
    // Measured on 1000 × 1000 products at batches of 10, 128 and 1000: 64-column blocks were
    // fastest at 40–50 % density, 128 at 20–30 %, 256 at 10 %.
    let wanted = (ENTRIES_PER_BLOCK / s.density().max(1e-3)) as usize;
    let block = wanted.next_multiple_of(MIN_COLUMN_BLOCK).clamp(MIN_COLUMN_BLOCK, cols.max(MIN_COLUMN_BLOCK)) as u32;
    let mut c0 = 0u32;
    loop {
        let c1 = c0.saturating_add(block).min(cols as u32);
        for e in examples.clone() {
            let out = &mut zb.col_mut(e)[r..r + height];
            let start = if c0 == 0 { bias.as_ptr() } else { out.as_ptr() };
            // SAFETY: the CPU has AVX-512F (`available`); `w` holds `cols` columns of `ld` rows
            // with `row + height <= ld` (checked above) and every index of the batch is below
            // `cols` (the `SparseBatch` invariant); the masks cover exactly `height` rows, and
            // masked-off lanes are neither read nor written; the cursor stays within
            // `offsets[e]..offsets[e + 1]`, which lies in `0..indices.len()`; `start` and `out`
            // address `height` values (they may coincide: all of `start` is read before `out`
            // is written).
            cursors[e] = unsafe {
                let (w, idx, val, from, end) = (w.as_ptr().add(row), indices.as_ptr(), values.as_ptr(), cursors[e], offsets[e + 1]);
                if height == 64 {
                    accumulate64::<false>(w, ld, idx, val, from, end, c1, start, out.as_mut_ptr(), masks)
                } else {
                    accumulate64::<true>(w, ld, idx, val, from, end, c1, start, out.as_mut_ptr(), masks)
                }
            };
        }
        if c1 as usize >= cols {
            break;
        }
        c0 = c1;
    }
}

/// `out = start + Σ_k values[k]·W[.., indices[k]]` over the entries `k = from..` with
/// `indices[k] < c1` (stopping at `end`); returns the first entry not consumed. With `MASKED`,
/// only the lanes of `masks` are read and written (all 64 otherwise).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn accumulate64<const MASKED: bool>(
    w: *const f32,
    ld: usize,
    idx: *const u32,
    val: *const f32,
    from: usize,
    end: usize,
    c1: u32,
    start: *const f32,
    out: *mut f32,
    masks: [__mmask16; 4],
) -> usize {
    // SAFETY: for the whole body, the caller guarantees the bounds described in `forward_block`.
    unsafe {
        let load = |p: *const f32, i: usize| {
            if MASKED { _mm512_maskz_loadu_ps(masks[i], p.add(16 * i)) } else { _mm512_loadu_ps(p.add(16 * i)) }
        };
        let s = start;
        let (mut a0, mut a1, mut a2, mut a3) = (load(s, 0), load(s, 1), load(s, 2), load(s, 3));
        let mut k = from;
        while k < end {
            let j = *idx.add(k);
            if j >= c1 {
                break;
            }
            let q = w.add(j as usize * ld);
            let v = _mm512_set1_ps(*val.add(k));
            a0 = _mm512_fmadd_ps(v, load(q, 0), a0);
            a1 = _mm512_fmadd_ps(v, load(q, 1), a1);
            a2 = _mm512_fmadd_ps(v, load(q, 2), a2);
            a3 = _mm512_fmadd_ps(v, load(q, 3), a3);
            k += 1;
        }
        for (i, a) in [a0, a1, a2, a3].into_iter().enumerate() {
            if MASKED {
                _mm512_mask_storeu_ps(out.add(16 * i), masks[i], a);
            } else {
                _mm512_storeu_ps(out.add(16 * i), a);
            }
        }
        k
    }
}

/// `$go!(N)` for the example count `$n` in `1..=8` (0 takes the 1-example kernel), so each count
/// gets a kernel compiled with its accumulators in registers.
macro_rules! by_count {
    ($n:expr, $go:ident) => {
        match $n {
            8 => $go!(8),
            7 => $go!(7),
            6 => $go!(6),
            5 => $go!(5),
            4 => $go!(4),
            3 => $go!(3),
            2 => $go!(2),
            _ => $go!(1),
        }
    };
}

/// Checks that the δ columns `examples` of a column-major `rows × batch` slice exist.
#[track_caller]
fn check_delta(delta: &[f32], rows: usize, examples: &[u32]) {
    let last = examples.iter().copied().max().map_or(0, |e| e as usize + 1);
    assert!(delta.len() >= rows * last, "avx512: δ column out of bounds");
}

/// The dot products of column `col` with the δ columns `examples`, into `dst`.
///
/// # Panics
/// If `dst` and `examples` differ in length or a δ column is out of bounds.
pub(crate) fn column_dots(col: &[f32], delta: &[f32], examples: &[u32], dst: &mut [f32]) {
    let rows = col.len();
    assert_eq!(dst.len(), examples.len(), "column_dots: one output per example");
    check_delta(delta, rows, examples);
    for (ex, out) in examples.chunks(8).zip(dst.chunks_mut(8)) {
        let mut ptrs = [std::ptr::null::<f32>(); 8];
        for (p, &e) in ptrs.iter_mut().zip(ex) {
            // In bounds: checked by `check_delta`.
            *p = delta[e as usize * rows..].as_ptr();
        }
        // SAFETY: AVX-512F is available; `col` has `rows` values and each of the first
        // `ex.len()` pointers starts a δ column with `rows` values (checked above).
        let d = unsafe { dots8(col.as_ptr(), rows, &ptrs, ex.len()) };
        out.copy_from_slice(&d[..ex.len()]);
    }
}

/// Up to eight dot products of a `rows`-long column with δ columns, two accumulators each.
#[target_feature(enable = "avx512f")]
unsafe fn dots8(w: *const f32, rows: usize, d: &[*const f32; 8], n: usize) -> [f32; 8] {
    macro_rules! go {
        ($n:literal) => {
            // SAFETY: as for `dots8`.
            unsafe { dots_n::<$n>(w, rows, d) }
        };
    }
    by_count!(n, go)
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dots_n<const N: usize>(w: *const f32, rows: usize, d: &[*const f32; 8]) -> [f32; 8] {
    // SAFETY: for the whole body, `w` and the first `N` pointers of `d` address `rows` values each.
    unsafe {
        let mut a = [_mm512_setzero_ps(); N];
        let mut b = [_mm512_setzero_ps(); N];
        let mut i = 0;
        while i + 32 <= rows {
            let w0 = _mm512_loadu_ps(w.add(i));
            let w1 = _mm512_loadu_ps(w.add(i + 16));
            for g in 0..N {
                a[g] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(d[g].add(i)), a[g]);
                b[g] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(d[g].add(i + 16)), b[g]);
            }
            i += 32;
        }
        while i < rows {
            let m = if rows - i >= 16 { 0xffff } else { tail_mask(rows - i) };
            let w0 = _mm512_maskz_loadu_ps(m, w.add(i));
            for g in 0..N {
                a[g] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, d[g].add(i)), a[g]);
            }
            i += 16;
        }
        let mut out = [0.0f32; 8];
        for g in 0..N {
            out[g] = _mm512_reduce_add_ps(_mm512_add_ps(a[g], b[g]));
        }
        out
    }
}

/// One optimiser step of a weight column with the gradient `Σₖ values[k]·δ[:, examples[k]]`,
/// and (when `dots` is not empty) the dot products of the column *before* the step with the same
/// δ columns. `velocity` is the column's velocity when `rule` has momentum. With at most eight
/// examples this is one pass over the column; with more, the dot products take one pass per
/// eight examples while the scaled gradient is summed into `scratch`, then one pass steps.
///
/// # Panics
/// If the lengths disagree or a δ column is out of bounds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn column_step(
    rule: StepRule,
    col: &mut [f32],
    velocity: Option<&mut [f32]>,
    delta: &[f32],
    examples: &[u32],
    values: &[f32],
    dots: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let rows = col.len();
    assert_eq!(examples.len(), values.len(), "column_step: one value per example");
    assert!(dots.is_empty() || dots.len() == examples.len(), "column_step: one dot per example");
    assert!(velocity.as_ref().is_none_or(|v| v.len() == rows), "column_step: velocity length");
    assert!(rule.kind() != MOMENTUM || velocity.is_some(), "column_step: momentum needs a velocity");
    check_delta(delta, rows, examples);
    let ptr = |e: u32| delta[e as usize * rows..].as_ptr();
    if examples.len() <= 8 {
        let mut d = [std::ptr::null::<f32>(); 8];
        let mut c = [0.0f32; 8];
        for (k, &e) in examples.iter().enumerate() {
            d[k] = ptr(e);
            c[k] = rule.scale * values[k];
        }
        let v = velocity.map_or(std::ptr::null_mut(), |v| v.as_mut_ptr());
        // SAFETY: AVX-512F is available; `col` (and `v`, when non-null) hold `rows` values, and
        // the first `examples.len()` pointers of `d` start δ columns of `rows` values (checked).
        let out = unsafe { step8(rule, col.as_mut_ptr(), v, rows, &d, &c, examples.len(), !dots.is_empty()) };
        if !dots.is_empty() {
            dots.copy_from_slice(&out[..examples.len()]);
        }
        return;
    }
    if !dots.is_empty() {
        column_dots(col, delta, examples, dots);
    }
    scratch.clear();
    scratch.resize(rows, 0.0);
    for (ex, vals) in examples.chunks(8).zip(values.chunks(8)) {
        let mut d = [std::ptr::null::<f32>(); 8];
        let mut c = [0.0f32; 8];
        for k in 0..ex.len() {
            d[k] = ptr(ex[k]);
            c[k] = rule.scale * vals[k];
        }
        // SAFETY: as above, with `scratch` holding `rows` values; the plain rule adds the scaled
        // gradient to it.
        unsafe { step8(StepRule::add(1.0), scratch.as_mut_ptr(), std::ptr::null_mut(), rows, &d, &c, ex.len(), false) };
    }
    super::step::apply_rule(rule, col, velocity, scratch);
}

#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn step8(
    rule: StepRule,
    w: *mut f32,
    v: *mut f32,
    rows: usize,
    d: &[*const f32; 8],
    c: &[f32; 8],
    n: usize,
    want_dots: bool,
) -> [f32; 8] {
    macro_rules! go {
        ($n:literal) => {
            // SAFETY: as for `step8`.
            unsafe {
                match (rule.kind(), want_dots) {
                    (PLAIN, true) => step_n::<$n, PLAIN, true>(rule, w, v, rows, d, c),
                    (PLAIN, false) => step_n::<$n, PLAIN, false>(rule, w, v, rows, d, c),
                    (MOMENTUM, true) => step_n::<$n, MOMENTUM, true>(rule, w, v, rows, d, c),
                    (MOMENTUM, false) => step_n::<$n, MOMENTUM, false>(rule, w, v, rows, d, c),
                    (_, true) => step_n::<$n, { super::step::DECAY }, true>(rule, w, v, rows, d, c),
                    (_, false) => step_n::<$n, { super::step::DECAY }, false>(rule, w, v, rows, d, c),
                }
            }
        };
    }
    by_count!(n, go)
}

/// The one-pass kernel: per 16 rows, load the weights (and velocity), the `N` δ chunks, update
/// the dot products with the old weights, sum the scaled gradient, step, store.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn step_n<const N: usize, const K: u8, const DOTS: bool>(
    rule: StepRule,
    w: *mut f32,
    v: *mut f32,
    rows: usize,
    d: &[*const f32; 8],
    c: &[f32; 8],
) -> [f32; 8] {
    // SAFETY: for the whole body, `w` (and `v` for momentum) and the first `N` pointers of `d` address
    // `rows` values each.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); N];
        let mut cs = [_mm512_setzero_ps(); N];
        for g in 0..N {
            cs[g] = _mm512_set1_ps(c[g]);
        }
        let (mu, decay) = (_mm512_set1_ps(rule.momentum), _mm512_set1_ps(rule.decay));
        // The dot products are summed exactly as in `dots_n` (alternating accumulators over
        // 32-row steps, then 16-row steps into the first), so the fused kernel's gradient for the
        // layer below equals the masked backward's bit for bit.
        let mut b = [_mm512_setzero_ps(); N];
        let chunk = |i: usize, m: __mmask16, acc: &mut [__m512; N]| {
            let wv = _mm512_maskz_loadu_ps(m, w.add(i));
            let mut sg = _mm512_setzero_ps();
            for g in 0..N {
                let dv = _mm512_maskz_loadu_ps(m, d[g].add(i));
                if DOTS {
                    acc[g] = _mm512_fmadd_ps(wv, dv, acc[g]);
                }
                sg = _mm512_fmadd_ps(cs[g], dv, sg);
            }
            let new = match K {
                MOMENTUM => {
                    // v ← μ·v + sg − decay·w; w ← w + v.
                    let vv = _mm512_maskz_loadu_ps(m, v.add(i));
                    let nv = _mm512_fnmadd_ps(decay, wv, _mm512_fmadd_ps(mu, vv, sg));
                    _mm512_mask_storeu_ps(v.add(i), m, nv);
                    _mm512_add_ps(wv, nv)
                }
                PLAIN => _mm512_add_ps(wv, sg),
                _ => _mm512_fnmadd_ps(decay, wv, _mm512_add_ps(wv, sg)),
            };
            _mm512_mask_storeu_ps(w.add(i), m, new);
        };
        let mut i = 0;
        while i + 32 <= rows {
            chunk(i, 0xffff, &mut acc);
            chunk(i + 16, 0xffff, &mut b);
            i += 32;
        }
        while i < rows {
            let m = if rows - i >= 16 { 0xffff } else { tail_mask(rows - i) };
            chunk(i, m, &mut acc);
            i += 16;
        }
        for g in 0..N {
            acc[g] = _mm512_add_ps(acc[g], b[g]);
        }
        let mut out = [0.0f32; 8];
        if DOTS {
            for g in 0..N {
                out[g] = _mm512_reduce_add_ps(acc[g]);
            }
        }
        out
    }
}

/// Appends the entries of `col` that a rectifier keeps (`x > 0`, or NaN) to `indices` (their
/// positions, `base` being the position of `col[0]`'s unit, here 0) and `values`, with AVX-512's
/// compressing stores: 16 comparisons and two stores per 16 units instead of a branch each.
pub(crate) fn push_rectified(col: &[f32], indices: &mut Vec<u32>, values: &mut Vec<f32>) {
    let n = col.len();
    assert!(u32::try_from(n).is_ok(), "push_rectified: column too long");
    indices.reserve(n);
    values.reserve(n);
    let (i0, v0) = (indices.len(), values.len());
    // SAFETY: AVX-512F is available; both vectors have room for `n` more elements (reserved
    // above), the loop writes at most `n` of each (one per kept entry) into that spare capacity,
    // and the lengths are set to exactly the number written.
    unsafe {
        let kept = compress_positive(col.as_ptr(), n, indices.as_mut_ptr().add(i0), values.as_mut_ptr().add(v0));
        indices.set_len(i0 + kept);
        values.set_len(v0 + kept);
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn compress_positive(x: *const f32, n: usize, idx: *mut u32, val: *mut f32) -> usize {
    // SAFETY: for the whole body, `x` holds `n` values and `idx`/`val` have room for `n`.
    unsafe {
        let zero = _mm512_setzero_ps();
        let step = _mm512_set1_epi32(16);
        let mut iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut kept = 0usize;
        let mut i = 0;
        while i < n {
            let m = if n - i >= 16 { 0xffff } else { tail_mask(n - i) };
            let v = _mm512_maskz_loadu_ps(m, x.add(i));
            // Not (x <= 0), unordered: true for x > 0 and for NaN, which the rectifier keeps.
            let keep = _mm512_mask_cmp_ps_mask::<_CMP_NLE_UQ>(m, v, zero);
            // Compress in registers, then store the first `count` lanes: the compressing store
            // to memory is microcoded on AMD's Zen 4 and was 16 % of an inference profile.
            let count = keep.count_ones() as usize;
            let low = tail_mask(count);
            _mm512_mask_storeu_ps(val.add(kept), low, _mm512_maskz_compress_ps(keep, v));
            _mm512_mask_storeu_epi32(idx.add(kept).cast::<i32>(), low, _mm512_maskz_compress_epi32(keep, iota));
            kept += count;
            iota = _mm512_add_epi32(iota, step);
            i += 16;
        }
        kept
    }
}
