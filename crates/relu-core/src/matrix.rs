//! Strided matrix views and the one safe wrapper around matrixmultiply's `unsafe` sgemm.
//!
//! This module holds every `unsafe` block of the crate. [`MatRef`] and [`MatMut`] are borrowed,
//! strided views (like ndarray's array views) whose constructors check that every element they
//! can address lies inside the borrowed slice; [`gemm`] is the only caller of
//! [`matrixmultiply::sgemm`]. Everything else in relu — dense layers, the dense halves of the
//! sparse/dense dispatch, benchmarks — goes through [`gemm`].
//!
//! # Matrix convention
//! relu stores matrices column-major (nalgebra's `DMatrix<f32>`) with **one example per
//! column**: a batch of activations is `units × batch`, so an example's activations are
//! contiguous, and a weight matrix is `out × in`, so the weights leaving one input unit (one
//! column) are contiguous too. The sparse kernels rely on both facts.

use std::marker::PhantomData;

use nalgebra::{DMatrix, DVector};

/// An immutable strided view of an `f32` matrix: element `(i, j)` lives at
/// `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    ptr: *const f32,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    _life: PhantomData<&'a [f32]>,
}

// SAFETY: a `MatRef` is a shared borrow of `f32`s, exactly like `&[f32]`, which is Send + Sync.
unsafe impl Send for MatRef<'_> {}
// SAFETY: as above.
unsafe impl Sync for MatRef<'_> {}

/// A mutable strided view of an `f32` matrix whose elements are pairwise distinct.
#[derive(Debug)]
pub struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    _life: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `MatMut` is an exclusive borrow of distinct `f32`s, like `&mut [f32]`, which is Send.
unsafe impl Send for MatMut<'_> {}

#[cold]
#[inline(never)]
#[track_caller]
fn view_out_of_bounds(rows: usize, cols: usize, rs: usize, cs: usize, len: usize) -> ! {
    panic!("matrix view {rows}×{cols} with strides ({rs}, {cs}) does not fit in a slice of length {len}")
}

/// Whether every element of a `rows × cols` view with these strides lies below `len`.
fn fits(rows: usize, cols: usize, rs: usize, cs: usize, len: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1).checked_mul(rs).and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
    matches!(last, Some(l) if l < len)
}

impl<'a> MatRef<'a> {
    /// A view of `data` as a `rows × cols` matrix with the given strides.
    ///
    /// # Panics
    /// If an addressable element lies outside `data`.
    #[track_caller]
    pub fn from_slice(data: &'a [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        if !fits(rows, cols, row_stride, col_stride, data.len()) {
            view_out_of_bounds(rows, cols, row_stride, col_stride, data.len());
        }
        Self { ptr: data.as_ptr(), rows, cols, rs: row_stride, cs: col_stride, _life: PhantomData }
    }

    /// A column-major view (`row_stride = 1`, `col_stride = rows`).
    #[track_caller]
    pub fn col_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::from_slice(data, rows, cols, 1, rows)
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// The transposed view (no copy).
    pub fn t(self) -> MatRef<'a> {
        MatRef { ptr: self.ptr, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, _life: PhantomData }
    }

    /// Rows `start..end` as a view (no copy).
    ///
    /// # Panics
    /// If the range is out of bounds.
    #[track_caller]
    pub fn rows_range(self, start: usize, end: usize) -> MatRef<'a> {
        assert!(start <= end && end <= self.rows, "MatRef::rows_range: {start}..{end} out of 0..{}", self.rows);
        // SAFETY: `start <= rows`, so the offset stays within (or one past) the viewed elements,
        // and the new view addresses a subset of the old one's elements.
        let ptr = if end > start { unsafe { self.ptr.add(start * self.rs) } } else { self.ptr };
        MatRef { ptr, rows: end - start, cols: self.cols, rs: self.rs, cs: self.cs, _life: PhantomData }
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// If out of bounds.
    #[track_caller]
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(i < self.rows && j < self.cols, "MatRef::get: ({i}, {j}) out of {}×{}", self.rows, self.cols);
        // SAFETY: in bounds, and the constructor checked every in-bounds element lies in the slice.
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) }
    }

    /// Column `j` as a slice, when rows are contiguous (`row_stride == 1`).
    ///
    /// # Panics
    /// If `j` is out of bounds or the row stride is not 1.
    #[track_caller]
    pub fn col(&self, j: usize) -> &'a [f32] {
        assert!(j < self.cols && self.rs == 1, "MatRef::col: column {j} of a {}×{} view with row stride {}", self.rows, self.cols, self.rs);
        // SAFETY: with row stride 1 the column's `rows` elements are consecutive and all lie in the
        // borrowed slice (checked at construction); the borrow lives for 'a.
        unsafe { std::slice::from_raw_parts(self.ptr.add(j * self.cs), self.rows) }
    }
}

impl<'a> MatMut<'a> {
    /// A mutable view of `data` as a `rows × cols` matrix with the given strides.
    ///
    /// # Panics
    /// If an addressable element lies outside `data`, or two elements could share a location
    /// (we require `col_stride >= rows * row_stride` or `row_stride >= cols * col_stride`, with
    /// both strides non-zero when the view is not empty).
    #[track_caller]
    pub fn from_slice(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Self {
        if !fits(rows, cols, row_stride, col_stride, data.len()) {
            view_out_of_bounds(rows, cols, row_stride, col_stride, data.len());
        }
        let distinct = rows == 0
            || cols == 0
            || (rows == 1 || row_stride > 0)
                && (cols == 1 || col_stride > 0)
                && (cols == 1 || rows == 1 || col_stride >= rows * row_stride || row_stride >= cols * col_stride);
        assert!(distinct, "MatMut: strides ({row_stride}, {col_stride}) alias elements of a {rows}×{cols} view");
        Self { ptr: data.as_mut_ptr(), rows, cols, rs: row_stride, cs: col_stride, _life: PhantomData }
    }

    /// A column-major mutable view.
    #[track_caller]
    pub fn col_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::from_slice(data, rows, cols, 1, rows)
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// Reborrows as a shorter-lived mutable view.
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut { ptr: self.ptr, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs, _life: PhantomData }
    }

    /// Splits into rows `0..mid` and `mid..` — two disjoint views that can be handed to
    /// different threads.
    ///
    /// # Panics
    /// If `mid > nrows`.
    #[track_caller]
    pub fn split_rows_at(self, mid: usize) -> (MatMut<'a>, MatMut<'a>) {
        assert!(mid <= self.rows, "MatMut::split_rows_at: {mid} > {} rows", self.rows);
        // SAFETY: `mid <= rows`; the second view addresses rows mid.. of the same columns, which
        // are disjoint from rows ..mid because distinct (i, j) map to distinct locations.
        let second = if mid < self.rows { unsafe { self.ptr.add(mid * self.rs) } } else { self.ptr };
        (
            MatMut { ptr: self.ptr, rows: mid, cols: self.cols, rs: self.rs, cs: self.cs, _life: PhantomData },
            MatMut { ptr: second, rows: self.rows - mid, cols: self.cols, rs: self.rs, cs: self.cs, _life: PhantomData },
        )
    }

    /// Column `j` as a mutable slice, when rows are contiguous (`row_stride == 1`).
    ///
    /// # Panics
    /// If `j` is out of bounds or the row stride is not 1.
    #[track_caller]
    pub fn col_mut(&mut self, j: usize) -> &mut [f32] {
        assert!(
            j < self.cols && self.rs == 1,
            "MatMut::col_mut: column {j} of a {}×{} view with row stride {}",
            self.rows,
            self.cols,
            self.rs
        );
        // SAFETY: with row stride 1 the column's elements are consecutive, inside the borrowed
        // slice, and exclusively ours for the duration of the `&mut self` borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(j * self.cs), self.rows) }
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// If out of bounds.
    #[track_caller]
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(i < self.rows && j < self.cols, "MatMut::get: ({i}, {j}) out of {}×{}", self.rows, self.cols);
        // SAFETY: in bounds, checked at construction.
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) }
    }
}

impl<'a> From<&'a DMatrix<f32>> for MatRef<'a> {
    fn from(m: &'a DMatrix<f32>) -> Self {
        MatRef::col_major(m.as_slice(), m.nrows(), m.ncols())
    }
}

impl<'a> From<&'a DVector<f32>> for MatRef<'a> {
    fn from(v: &'a DVector<f32>) -> Self {
        MatRef::col_major(v.as_slice(), v.nrows(), 1)
    }
}

impl<'a> From<&'a mut DMatrix<f32>> for MatMut<'a> {
    fn from(m: &'a mut DMatrix<f32>) -> Self {
        let (r, c) = m.shape();
        MatMut::col_major(m.as_mut_slice(), r, c)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn gemm_shape_error(a: (usize, usize), b: (usize, usize), c: (usize, usize)) -> ! {
    panic!("gemm: cannot compute C[{}×{}] = A[{}×{}] · B[{}×{}]", c.0, c.1, a.0, a.1, b.0, b.1)
}

/// `C ← α·A·B + β·C` on one thread, through matrixmultiply's sgemm (runtime-detected
/// AVX2/FMA/AVX-512 kernels). When `β == 0` the old contents of `C` are never read, so `C` may
/// hold garbage (even NaN).
///
/// # Panics
/// If the shapes do not agree (`A` is m×k, `B` k×n, `C` m×n).
#[track_caller]
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.rows != m || c.cols != n {
        gemm_shape_error((a.rows, a.cols), (b.rows, b.cols), (c.rows, c.cols));
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply handles k = 0, but scaling C by beta explicitly keeps the β = 0 contract
        // (C not read) obvious.
        for j in 0..n {
            for i in 0..m {
                let idx = i * c.rs + j * c.cs;
                // SAFETY: (i, j) is in bounds of the checked view.
                unsafe {
                    let p = c.ptr.add(idx);
                    *p = if beta == 0.0 { 0.0 } else { beta * *p };
                }
            }
        }
        return;
    }
    let isz = |s: usize| s as isize;
    // SAFETY: the views' constructors checked that every element addressed by (rows, cols,
    // strides) lies inside the borrowed slices, the shapes agree (checked above), C's elements
    // are distinct and exclusively borrowed, and strides fit isize because they index into a
    // slice. matrixmultiply reads A and B and writes C only within those bounds.
    unsafe {
        matrixmultiply::sgemm(m, k, n, alpha, a.ptr, isz(a.rs), isz(a.cs), b.ptr, isz(b.rs), isz(b.cs), beta, c.ptr, isz(c.rs), isz(c.cs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "does not fit")]
    fn view_bounds_are_checked() {
        let data = [0.0f32; 5];
        let _ = MatRef::col_major(&data, 2, 3);
    }

    #[test]
    #[should_panic(expected = "alias")]
    fn aliasing_mut_views_are_rejected() {
        let mut data = [0.0f32; 6];
        let _ = MatMut::from_slice(&mut data, 3, 2, 1, 1);
    }

    #[test]
    #[should_panic(expected = "gemm: cannot compute")]
    fn gemm_checks_shapes() {
        let a = [1.0f32; 6];
        let b = [1.0f32; 6];
        let mut c = [0.0f32; 4];
        gemm(1.0, MatRef::col_major(&a, 2, 3), MatRef::col_major(&b, 2, 3), 0.0, MatMut::col_major(&mut c, 2, 2));
    }

    #[test]
    fn gemm_transposed_views_and_split() {
        // A = [[1,2],[3,4]] column-major: [1,3,2,4].
        let a = [1.0f32, 3.0, 2.0, 4.0];
        let b = [1.0f32, 0.0, 0.0, 1.0];
        let mut c = [f32::NAN; 4];
        gemm(1.0, MatRef::col_major(&a, 2, 2).t(), MatRef::col_major(&b, 2, 2), 0.0, MatMut::col_major(&mut c, 2, 2));
        assert_eq!(c, [1.0, 2.0, 3.0, 4.0]);
        let (top, mut bottom) = MatMut::col_major(&mut c, 2, 2).split_rows_at(1);
        assert_eq!(top.nrows(), 1);
        bottom.col_mut(1)[0] = 9.0;
        assert_eq!(c, [1.0, 2.0, 3.0, 9.0]);
    }
}
