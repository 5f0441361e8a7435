//! Sparse kernels: they touch only the weights of active inputs.
//!
//! The inner loops are written once in plain Rust over fixed-size chunks (so LLVM keeps the
//! accumulators in vector registers) and compiled several times by [`multiversion`] for AVX-512,
//! AVX2+FMA and NEON, with the best one picked at run time. On CPUs with AVX-512F the three
//! hottest loops (the forward block, the column dot products and the fused column step) run
//! hand-written versions instead (`avx512.rs`); both are tested against the references.

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::check;
use super::parallel::{balanced_unit_ranges, for_row_blocks, task_count};
use super::simd::{LANES, hsum, madd};
use super::step::{ColumnMap, PLAIN, StepRule, apply_rule};
use crate::matrix::MatMut;
use crate::sparse::{SparseBatch, UnitMajor};

/// Rows handled per register block in the forward and weight-gradient kernels: 64 `f32` are
/// 8 AVX2 or 4 AVX-512 registers of accumulators.
const BLOCK: usize = 64;

/// Examples per pass of the AVX-512 forward kernel over a thread's row blocks (measured at batch
/// 1000, 20 % density: 128 was 12 % faster than the whole batch at once, 64 slower).
const FORWARD_CHUNK: usize = 128;

/// Sparse affine map `Z = W·S + b` for a sparse input batch: each example reads only the weight
/// columns of its active inputs.
///
/// Work is split over row blocks of `Z` (each task reads its rows of the active weight columns,
/// which stay in cache across examples), so results do not depend on the thread count.
///
/// # Shapes
/// `w`: out×in, `s`: in×batch, `b`: out, `z`: out×batch (overwritten; never read).
///
/// # Panics
/// If the shapes disagree.
#[track_caller]
pub fn sparse_affine(w: &DMatrix<f32>, s: &SparseBatch, b: &DVector<f32>, z: &mut DMatrix<f32>) {
    check::affine(w, s.units(), s.batch_size(), b, z);
    let out = w.nrows();
    let (wd, bias) = (w.as_slice(), b.as_slice());
    let work = out * s.nnz();
    for_row_blocks(MatMut::from(z), work, &|r0, mut zb| {
        #[cfg(target_arch = "x86_64")]
        if super::avx512::available() {
            let (rows, batch) = (zb.nrows(), s.batch_size());
            let mut cursors = vec![0usize; batch];
            // Examples in chunks, so that a chunk's sparse entries and outputs stay in L2
            // while every row block reads them.
            for e0 in (0..batch).step_by(FORWARD_CHUNK) {
                let examples = e0..(e0 + FORWARD_CHUNK).min(batch);
                for r in (0..rows).step_by(BLOCK) {
                    let b = &bias[r0 + r..r0 + (r + BLOCK).min(rows)];
                    super::avx512::forward_block(wd, out, r0 + r, b, s, examples.clone(), &mut cursors, &mut zb, r);
                }
            }
            return;
        }
        forward_rows(wd, out, r0, bias, s, &mut zb)
    });
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn forward_rows<'z>(w: &[f32], ld: usize, r0: usize, bias: &[f32], s: &SparseBatch, zb: &mut MatMut<'z>) {
    let fma = target_cfg_f!(target_feature = "fma");
    let rows = zb.nrows();
    // Row blocks outside, examples inside: a 64-row slice of W (256 KB for 1000 inputs) stays in
    // L2 while every example of the batch reads its active columns from it, so W streams from
    // memory once per call rather than once per example.
    let mut r = 0;
    while r + BLOCK <= rows {
        let b: &[f32; BLOCK] = bias[r0 + r..r0 + r + BLOCK].try_into().expect("block");
        for e in 0..s.batch_size() {
            let (idx, val) = s.example(e);
            let mut acc = *b;
            for (&j, &v) in idx.iter().zip(val) {
                let start = j as usize * ld + r0 + r;
                let wc: &[f32; BLOCK] = w[start..start + BLOCK].try_into().expect("block");
                for t in 0..BLOCK {
                    acc[t] = madd(fma, v, wc[t], acc[t]);
                }
            }
            zb.col_mut(e)[r..r + BLOCK].copy_from_slice(&acc);
        }
        r += BLOCK;
    }
    if r < rows {
        for e in 0..s.batch_size() {
            let (idx, val) = s.example(e);
            let tail = &mut zb.col_mut(e)[r..];
            tail.copy_from_slice(&bias[r0 + r..r0 + rows]);
            for (&j, &v) in idx.iter().zip(val) {
                let start = j as usize * ld + r0 + r;
                for (z, &wv) in tail.iter_mut().zip(&w[start..start + rows - r]) {
                    *z = madd(fma, v, wv, *z);
                }
            }
        }
    }
}

/// Masked backward `dH = Wᵀ·δ`, computed only at the positions active in `s` (the rectifier's
/// derivative is zero everywhere else). Writes one value per stored entry of `s`, aligned with
/// [`SparseBatch::values`].
///
/// Works unit by unit on the transposed batch `s_units` (from [`SparseBatch::by_unit`]): each
/// weight column is loaded once and dotted with the δ columns of all examples where that unit is
/// active, four at a time.
///
/// # Shapes
/// `w`: out×in, `delta`: out×batch, `s`/`s_units`: in×batch, `out`: `s.nnz()` values
/// (overwritten; never read).
///
/// # Panics
/// If the shapes disagree or `s_units` is not the transpose of a batch shaped like `s`.
#[track_caller]
pub fn masked_backward(w: &DMatrix<f32>, delta: &DMatrix<f32>, s: &SparseBatch, s_units: &UnitMajor, out: &mut [f32]) {
    check::backward(w, delta);
    check::sparse_pair(w.ncols(), delta.ncols(), s, s_units);
    assert_eq!(out.len(), s.nnz(), "masked_backward: output must hold one value per active entry");
    let mut by_unit = vec![0.0f32; s.nnz()];
    masked_backward_unit_major(w, delta, s_units, &mut by_unit);
    for (&p, &v) in s_units.positions().iter().zip(&by_unit) {
        out[p as usize] = v;
    }
}

fn masked_backward_unit_major(w: &DMatrix<f32>, delta: &DMatrix<f32>, s_units: &UnitMajor, by_unit: &mut [f32]) {
    let rows = w.nrows();
    let (wd, dd) = (w.as_slice(), delta.as_slice());
    let offsets = s_units.offsets();
    let ranges = balanced_unit_ranges(offsets, task_count(rows * s_units.nnz()), 0);
    let mut jobs = Vec::with_capacity(ranges.len());
    let mut rest = by_unit;
    for range in ranges {
        let (head, tail) = rest.split_at_mut(offsets[range.end] - offsets[range.start]);
        jobs.push((range, head));
        rest = tail;
    }
    jobs.into_par_iter().for_each(|(range, dst)| {
        let base = offsets[range.start];
        for u in range {
            let (examples, _) = s_units.unit(u);
            if examples.is_empty() {
                continue;
            }
            let d = &mut dst[offsets[u] - base..offsets[u + 1] - base];
            column_dots(&wd[u * rows..(u + 1) * rows], dd, rows, examples, d);
        }
    });
}

/// The dot products of one weight column with the δ columns `examples`.
fn column_dots(wc: &[f32], delta: &[f32], rows: usize, examples: &[u32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if super::avx512::available() {
        return super::avx512::column_dots(wc, delta, examples, dst);
    }
    unit_dots(wc, delta, rows, examples, dst)
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn unit_dots(wc: &[f32], delta: &[f32], rows: usize, examples: &[u32], dst: &mut [f32]) {
    let fma = target_cfg_f!(target_feature = "fma");
    let col = |e: u32| &delta[e as usize * rows..(e as usize + 1) * rows];
    let mut k = 0;
    while k + 4 <= examples.len() {
        let r = dot4(fma, wc, col(examples[k]), col(examples[k + 1]), col(examples[k + 2]), col(examples[k + 3]));
        dst[k..k + 4].copy_from_slice(&r);
        k += 4;
    }
    while k < examples.len() {
        dst[k] = dot1(fma, wc, col(examples[k]));
        k += 1;
    }
}

/// Four dot products of `w` with `d0..d3` at once, loading each chunk of `w` once. All slices
/// have `w.len()` elements.
#[inline(always)]
fn dot4(fma: bool, w: &[f32], d0: &[f32], d1: &[f32], d2: &[f32], d3: &[f32]) -> [f32; 4] {
    let n = w.len();
    let (d0, d1, d2, d3) = (&d0[..n], &d1[..n], &d2[..n], &d3[..n]);
    let (mut a0, mut a1, mut a2, mut a3) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
    let chunks = w
        .chunks_exact(LANES)
        .zip(d0.chunks_exact(LANES))
        .zip(d1.chunks_exact(LANES))
        .zip(d2.chunks_exact(LANES))
        .zip(d3.chunks_exact(LANES));
    for ((((wc, x0), x1), x2), x3) in chunks {
        for t in 0..LANES {
            a0[t] = madd(fma, wc[t], x0[t], a0[t]);
            a1[t] = madd(fma, wc[t], x1[t], a1[t]);
            a2[t] = madd(fma, wc[t], x2[t], a2[t]);
            a3[t] = madd(fma, wc[t], x3[t], a3[t]);
        }
    }
    let mut out = [hsum(&a0), hsum(&a1), hsum(&a2), hsum(&a3)];
    for i in n - n % LANES..n {
        out[0] = madd(fma, w[i], d0[i], out[0]);
        out[1] = madd(fma, w[i], d1[i], out[1]);
        out[2] = madd(fma, w[i], d2[i], out[2]);
        out[3] = madd(fma, w[i], d3[i], out[3]);
    }
    out
}

/// One dot product, with the same lane layout and summation order as [`dot4`].
#[inline(always)]
fn dot1(fma: bool, w: &[f32], d: &[f32]) -> f32 {
    let n = w.len();
    let d = &d[..n];
    let mut a = [0.0f32; LANES];
    for (wc, x) in w.chunks_exact(LANES).zip(d.chunks_exact(LANES)) {
        for t in 0..LANES {
            a[t] = madd(fma, wc[t], x[t], a[t]);
        }
    }
    let mut out = hsum(&a);
    for i in n - n % LANES..n {
        out = madd(fma, w[i], d[i], out);
    }
    out
}

/// Sparse weight gradient `dW[:, j] ← α·Σₑ δ[:, e]·S[j, e] + β·dW[:, j]` for the input units `j`
/// active somewhere in the batch; **other columns are not touched**. Returns those columns
/// (increasing). With `β = 0` the touched columns are never read; with `dw = W`, `α = −lr`,
/// `β = 1` it is a plain SGD step that moves only the weights that received gradient.
///
/// # Shapes
/// `delta`: out×batch, `s_units`: in×batch (unit-major), `dw`: out×in.
///
/// # Panics
/// If the shapes disagree.
#[track_caller]
pub fn sparse_weight_grad<'s>(alpha: f32, delta: &DMatrix<f32>, s_units: &'s UnitMajor, beta: f32, dw: &mut DMatrix<f32>) -> &'s [u32] {
    assert_eq!(delta.ncols(), s_units.batch_size(), "sparse_weight_grad: δ and S batch sizes differ");
    assert_eq!(dw.shape(), (delta.nrows(), s_units.units()), "sparse_weight_grad: dW must be out×in");
    let rows = delta.nrows();
    if rows == 0 {
        return s_units.active_units();
    }
    let dd = delta.as_slice();
    let offsets = s_units.offsets();
    let ranges = balanced_unit_ranges(offsets, task_count(rows * s_units.nnz()), 0);
    let mut jobs = Vec::with_capacity(ranges.len());
    let mut rest = dw.as_mut_slice();
    let mut consumed = 0;
    for range in ranges {
        let (_, tail) = rest.split_at_mut((range.start - consumed) * rows);
        let (head, tail) = tail.split_at_mut(range.len() * rows);
        consumed = range.end;
        jobs.push((range, head));
        rest = tail;
    }
    jobs.into_par_iter().for_each(|(range, cols)| {
        let first = range.start;
        for u in range {
            let (examples, values) = s_units.unit(u);
            if !examples.is_empty() {
                column_update(alpha, dd, rows, examples, values, beta, &mut cols[(u - first) * rows..(u - first + 1) * rows]);
            }
        }
    });
    s_units.active_units()
}

/// Masked backward and SGD step fused per weight column; see [`sparse_backward_step`], of which
/// this is the plain step `W ← W + α·δ·Sᵀ` (no decay, no velocity). Returns the columns touched.
///
/// # Shapes
/// `w`: out×in, `delta`: out×batch, `s`: in×batch, `dx`: `s.nnz()` values.
///
/// # Panics
/// If the shapes disagree.
#[track_caller]
pub fn sparse_backward_update<'s>(
    alpha: f32,
    w: &mut DMatrix<f32>,
    delta: &DMatrix<f32>,
    s: &'s SparseBatch,
    dx: Option<&mut [f32]>,
) -> &'s [u32] {
    sparse_backward_step(StepRule::add(alpha), w, None, delta, s, dx)
}

/// The masked backward and an optimiser step fused per weight column: for each input unit `j`
/// active in the batch, its column `W[:, j]` is loaded once, dotted with the δ columns of the
/// examples where `j` fired (the gradient for the layer below, written to `dx` aligned with
/// [`SparseBatch::values`] when requested, computed with the weights before the step), then
/// moved by `rule` with the gradient `g = Σₑ S[j, e]·δ[:, e]` while still in cache (and, with
/// momentum, the same column of `velocity`). Columns of units silent in the whole batch are not
/// touched: with decay or momentum they are owed idle steps, which [`catch_up_columns`] applies
/// before they are read again. Returns the columns touched.
///
/// # Shapes
/// `w` and `velocity`: out×in, `delta`: out×batch, `s`: in×batch, `dx`: `s.nnz()` values.
///
/// # Panics
/// If the shapes disagree, or `rule` has momentum and no velocity is given.
#[track_caller]
pub fn sparse_backward_step<'s>(
    rule: StepRule,
    w: &mut DMatrix<f32>,
    velocity: Option<&mut DMatrix<f32>>,
    delta: &DMatrix<f32>,
    s: &'s SparseBatch,
    dx: Option<&mut [f32]>,
) -> &'s [u32] {
    check::backward(w, delta);
    let units = s.by_unit();
    check::sparse_pair(w.ncols(), delta.ncols(), s, units);
    check::velocity(&rule, w, velocity.as_deref());
    let rows = w.nrows();
    if rows == 0 {
        return units.active_units();
    }
    let want_dx = dx.is_some();
    let mut by_unit = if want_dx { vec![0.0f32; s.nnz()] } else { Vec::new() };
    let dd = delta.as_slice();
    let offsets = units.offsets();
    let ranges = balanced_unit_ranges(offsets, task_count(2 * rows * units.nnz()), 0);
    let mut jobs = Vec::with_capacity(ranges.len());
    let (mut wrest, mut grest) = (w.as_mut_slice(), by_unit.as_mut_slice());
    let mut vrest: &mut [f32] = match velocity {
        Some(v) if rule.has_velocity() => v.as_mut_slice(),
        _ => &mut [],
    };
    let with_v = !vrest.is_empty();
    for range in ranges {
        let (wh, wt) = wrest.split_at_mut(range.len() * rows);
        let glen = if want_dx { offsets[range.end] - offsets[range.start] } else { 0 };
        let (gh, gt) = grest.split_at_mut(glen);
        let (vh, vt) = std::mem::take(&mut vrest).split_at_mut(if with_v { range.len() * rows } else { 0 });
        jobs.push((range, wh, vh, gh));
        wrest = wt;
        grest = gt;
        vrest = vt;
    }
    jobs.into_par_iter().for_each(|(range, cols, vels, grads)| {
        let (first, base) = (range.start, offsets[range.start]);
        let mut scratch = Vec::new();
        for u in range {
            let (examples, values) = units.unit(u);
            if examples.is_empty() {
                continue;
            }
            let at = (u - first) * rows..(u - first + 1) * rows;
            let col = &mut cols[at.clone()];
            let vcol = if with_v { Some(&mut vels[at]) } else { None };
            let dots: &mut [f32] = if want_dx { &mut grads[offsets[u] - base..offsets[u + 1] - base] } else { &mut [] };
            column_step(rule, col, vcol, dd, rows, examples, values, dots, &mut scratch);
        }
    });
    if let Some(out) = dx {
        assert_eq!(out.len(), s.nnz(), "sparse_backward_step: dx must hold one value per active entry");
        for (&p, &v) in units.positions().iter().zip(&by_unit) {
            out[p as usize] = v;
        }
    }
    units.active_units()
}

/// One column of [`sparse_backward_step`]: the dot products (into `dots`, when not empty) and the
/// step.
#[allow(clippy::too_many_arguments)]
fn column_step(
    rule: StepRule,
    col: &mut [f32],
    vcol: Option<&mut [f32]>,
    delta: &[f32],
    rows: usize,
    examples: &[u32],
    values: &[f32],
    dots: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if super::avx512::available() {
        return super::avx512::column_step(rule, col, vcol, delta, examples, values, dots, scratch);
    }
    if !dots.is_empty() {
        unit_dots(col, delta, rows, examples, dots);
    }
    if rule.kind() == PLAIN {
        column_update(rule.scale, delta, rows, examples, values, 1.0, col);
        return;
    }
    scratch.clear();
    scratch.resize(rows, 0.0);
    column_update(rule.scale, delta, rows, examples, values, 0.0, scratch);
    apply_rule(rule, col, vcol, scratch);
}

/// Brings columns up to date after idle steps: for each `(j, map)` in `columns` (increasing), column
/// `j` of `w` (and of `velocity`, when given) is transformed by `map` (see
/// [`StepRule::idle_steps`]). Columns not listed are not touched.
///
/// # Panics
/// If the columns are not increasing and in range, or the velocity's shape differs from `w`'s.
#[track_caller]
pub fn catch_up_columns(w: &mut DMatrix<f32>, velocity: Option<&mut DMatrix<f32>>, columns: &[(u32, ColumnMap)]) {
    if let Some(v) = &velocity {
        assert_eq!(v.shape(), w.shape(), "catch_up_columns: velocity shape");
    }
    assert!(columns.windows(2).all(|p| p[0].0 < p[1].0), "catch_up_columns: columns must be increasing");
    assert!(columns.last().is_none_or(|c| (c.0 as usize) < w.ncols()), "catch_up_columns: column out of range");
    let rows = w.nrows();
    if columns.is_empty() || rows == 0 {
        return;
    }
    let tasks = task_count(rows * columns.len()).min(columns.len());
    let per = columns.len().div_ceil(tasks);
    let mut jobs = Vec::with_capacity(tasks);
    let (mut wrest, mut at) = (w.as_mut_slice(), 0usize);
    let mut vrest: &mut [f32] = velocity.map_or(&mut [][..], |v| v.as_mut_slice());
    let with_v = !vrest.is_empty();
    for group in columns.chunks(per) {
        let end = group[group.len() - 1].0 as usize + 1;
        let (_, wt) = wrest.split_at_mut((group[0].0 as usize - at) * rows);
        let (wh, wt) = wt.split_at_mut((end - group[0].0 as usize) * rows);
        let vh = if with_v {
            let (_, vt) = std::mem::take(&mut vrest).split_at_mut((group[0].0 as usize - at) * rows);
            let (vh, vt) = vt.split_at_mut((end - group[0].0 as usize) * rows);
            vrest = vt;
            vh
        } else {
            &mut []
        };
        jobs.push((group, wh, vh));
        wrest = wt;
        at = end;
    }
    jobs.into_par_iter().for_each(|(group, ws, vs)| {
        let first = group[0].0 as usize;
        for &(j, map) in group {
            let k = (j as usize - first) * rows;
            let wc = &mut ws[k..k + rows];
            if with_v {
                for (w, v) in wc.iter_mut().zip(&mut vs[k..k + rows]) {
                    map.apply(w, v);
                }
            } else {
                let a = map.m[0];
                wc.iter_mut().for_each(|w| *w *= a);
            }
        }
    });
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn column_update(alpha: f32, delta: &[f32], rows: usize, examples: &[u32], values: &[f32], beta: f32, col: &mut [f32]) {
    let fma = target_cfg_f!(target_feature = "fma");
    let dcol = |e: u32| &delta[e as usize * rows..(e as usize + 1) * rows];
    // The column is streamed once per group of up to four examples; the first pass applies β
    // (and never reads the column when β = 0), later passes accumulate.
    let mut first = Some(beta);
    let mut k = 0;
    while k < examples.len() {
        let group = (examples.len() - k).min(4);
        let scale: [f32; 4] = std::array::from_fn(|i| if i < group { alpha * values[k + i] } else { 0.0 });
        let srcs: [&[f32]; 4] = std::array::from_fn(|i| dcol(examples[k + i.min(group - 1)]));
        let b = first.take();
        match group {
            4 => axpy_n::<4>(fma, scale, srcs, b, col),
            3 => axpy_n::<3>(fma, [scale[0], scale[1], scale[2]], [srcs[0], srcs[1], srcs[2]], b, col),
            2 => axpy_n::<2>(fma, [scale[0], scale[1]], [srcs[0], srcs[1]], b, col),
            _ => axpy_n::<1>(fma, [scale[0]], [srcs[0]], b, col),
        }
        k += group;
    }
}

/// `col ← Σₙ scale[n]·src[n] + (β·col | col)`: with `Some(β)` the old column is scaled by β
/// (not read at all when β = 0); with `None` the sum is added to it.
#[inline(always)]
fn axpy_n<const N: usize>(fma: bool, scale: [f32; N], src: [&[f32]; N], beta: Option<f32>, col: &mut [f32]) {
    let n = col.len();
    let src: [&[f32]; N] = std::array::from_fn(|i| &src[i][..n]);
    let mut c = 0;
    while c + BLOCK <= n {
        let mut acc = [0.0f32; BLOCK];
        for i in 0..N {
            let x: &[f32; BLOCK] = src[i][c..c + BLOCK].try_into().expect("block");
            for t in 0..BLOCK {
                acc[t] = madd(fma, scale[i], x[t], acc[t]);
            }
        }
        let out: &mut [f32; BLOCK] = (&mut col[c..c + BLOCK]).try_into().expect("block");
        combine(fma, &acc, beta, out);
        c += BLOCK;
    }
    for t in c..n {
        let mut acc = 0.0f32;
        for i in 0..N {
            acc = madd(fma, scale[i], src[i][t], acc);
        }
        col[t] = match beta {
            Some(0.0) => acc,
            Some(b) => madd(fma, b, col[t], acc),
            None => col[t] + acc,
        };
    }
}

#[inline(always)]
fn combine(fma: bool, acc: &[f32; BLOCK], beta: Option<f32>, out: &mut [f32; BLOCK]) {
    match beta {
        Some(0.0) => *out = *acc,
        Some(b) => {
            for t in 0..BLOCK {
                out[t] = madd(fma, b, out[t], acc[t]);
            }
        }
        None => {
            for t in 0..BLOCK {
                out[t] += acc[t];
            }
        }
    }
}
