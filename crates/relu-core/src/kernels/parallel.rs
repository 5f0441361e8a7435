//! Work splitting on the caller's rayon pool.
//!
//! Kernels never spawn threads of their own: they split work across `rayon::current_num_threads()`
//! of whatever pool they are called in (use [`crate::thread_pool`] and `pool.install`). Each
//! output element is always computed by exactly one task in the same order, so results do not
//! depend on the thread count.

use crate::matrix::MatMut;

/// Below this many multiply-adds a kernel runs on the calling thread: a rayon fork costs a few
/// microseconds, more than small products take.
pub(crate) const PARALLEL_MIN_WORK: usize = 1 << 17;

/// Row blocks start on multiples of this many rows (64 bytes of f32), so threads never share a
/// cache line of a column.
const ROW_ALIGN: usize = 16;

/// How many tasks to split `work` multiply-adds into.
pub(crate) fn task_count(work: usize) -> usize {
    if work < PARALLEL_MIN_WORK { 1 } else { rayon::current_num_threads().max(1) }
}

/// Calls `f(first_row, block)` on disjoint row blocks of `c` covering all its rows, in parallel
/// when `work` is large enough.
pub(crate) fn for_row_blocks<F>(c: MatMut<'_>, work: usize, f: &F)
where
    F: Fn(usize, MatMut<'_>) + Sync,
{
    let tasks = task_count(work).min(c.nrows().div_ceil(ROW_ALIGN)).max(1);
    split_rows(c, 0, tasks, f);
}

fn split_rows<F>(c: MatMut<'_>, first: usize, tasks: usize, f: &F)
where
    F: Fn(usize, MatMut<'_>) + Sync,
{
    if tasks <= 1 {
        f(first, c);
        return;
    }
    let left = tasks / 2;
    let rows = c.nrows();
    let mid = ((rows * left / tasks).div_ceil(ROW_ALIGN) * ROW_ALIGN).min(rows);
    let (a, b) = c.split_rows_at(mid);
    rayon::join(|| split_rows(a, first, left, f), || split_rows(b, first + mid, tasks - left, f));
}

/// Splits `0..offsets.len()-1` units into at most `tasks` contiguous ranges with roughly equal
/// numbers of entries (`offsets` is a prefix sum of per-unit entry counts) plus `base` work per
/// unit, so units with no entries still count a little.
pub(crate) fn balanced_unit_ranges(offsets: &[usize], tasks: usize, base: usize) -> Vec<std::ops::Range<usize>> {
    let units = offsets.len() - 1;
    let total = offsets[units] + base * units;
    let tasks = tasks.clamp(1, units.max(1));
    let mut ranges = Vec::with_capacity(tasks);
    let mut start = 0;
    for t in 1..=tasks {
        let target = total * t / tasks;
        let mut end = start;
        while end < units && offsets[end + 1] + base * (end + 1) <= target {
            end += 1;
        }
        if t == tasks {
            end = units;
        }
        if end > start {
            ranges.push(start..end);
        }
        start = end;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_ranges_cover_all_units_once() {
        let offsets = [0, 5, 5, 5, 30, 31, 40, 40];
        for tasks in 1..10 {
            let r = balanced_unit_ranges(&offsets, tasks, 1);
            assert_eq!(r.first().unwrap().start, 0);
            assert_eq!(r.last().unwrap().end, 7);
            assert!(r.windows(2).all(|w| w[0].end == w[1].start && w[0].start < w[0].end));
            assert!(r.len() <= tasks);
        }
    }
}
