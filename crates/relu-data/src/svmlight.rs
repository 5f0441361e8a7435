//! The svmlight / libsvm text format for sparse examples: one line per example,
//! `LABEL INDEX:VALUE INDEX:VALUE …`, indices 1-based and ascending (libsvm's convention;
//! scikit-learn's `load_svmlight_file` reads it). relu writes hidden codes in it (`relu encode`).

use std::io::Write;

use relu_core::SparseBatch;

/// Writes `codes` (one example per column, as every relu batch) with `labels` in svmlight format.
/// Values use the shortest decimal that reads back as the same `f32`.
///
/// # Errors
/// The writer's I/O errors.
///
/// # Panics
/// If there is not one label per example.
#[track_caller]
pub fn write(out: &mut impl Write, codes: &SparseBatch, labels: &[u32]) -> std::io::Result<()> {
    assert_eq!(labels.len(), codes.batch_size(), "svmlight::write: {} labels for {} examples", labels.len(), codes.batch_size());
    for (e, &label) in labels.iter().enumerate() {
        write!(out, "{label}")?;
        let (idx, val) = codes.example(e);
        for (&i, &v) in idx.iter().zip(val) {
            write!(out, " {}:{v}", i + 1)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn lines_are_label_then_one_based_pairs() {
        let m = DMatrix::from_column_slice(3, 3, &[0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 3.0]);
        let mut out = Vec::new();
        write(&mut out, &SparseBatch::from_dense(&m), &[1, 0, 7]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1 2:1.5\n0\n7 1:0.25 3:3\n");
    }
}
