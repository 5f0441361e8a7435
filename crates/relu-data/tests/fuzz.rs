//! Property tests: every parser, given random bytes or a mutated valid file (plain or gzip),
//! returns `Ok` or `Err` and never panics or over-allocates: a counting allocator checks that
//! the memory each parse allocates is bounded by its input, not by sizes a header claims.

mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::path::Path;

use common::{gz, idx_bytes, norb_bytes};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use relu_data::text::{Targets, parse_acl, parse_jsonl, parse_tsv, parse_tsv_as_classes};
use relu_data::{cifar, idx, norb};

#[global_allocator]
static ALLOC: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

/// The most any parse of `input` bytes may allocate at once: the inputs here are at most a few
/// kilobytes, and gzip expands at most ≈1032×, so a parse that honours a header's claimed size
/// instead of the bytes present (the 2.1 GB and 4.3 GB allocations of hostile files) is caught.
fn allocation_bound(input: usize) -> usize {
    (1 << 20) + 2048 * input
}

fn run_all(bytes: &[u8]) {
    let ((), peak) = counting_alloc::peak_bytes(|| parse_all(bytes));
    let bound = allocation_bound(bytes.len());
    assert!(peak <= bound, "parsing {} bytes allocated {peak} bytes at once (bound {bound})", bytes.len());
}

fn parse_all(bytes: &[u8]) {
    let p = Path::new("fuzz");
    let _ = idx::parse_idx(bytes, p);
    let _ = norb::parse_norb(bytes, p);
    let _ = cifar::parse_batch(bytes, p);
    for t in [Targets::Polarity, Targets::Stars, Targets::Classes(3), Targets::Unlabeled] {
        let _ = parse_tsv(bytes, p, t);
        let _ = parse_jsonl(bytes, p, t);
    }
    if let Ok(c) = parse_tsv_as_classes(bytes, p) {
        // Every label is an index into the class names.
        assert!(c.documents.iter().all(|d| d.label.is_some_and(|l| (l as usize) < c.classes.len())));
    }
    let _ = parse_acl(bytes, p, true);
    let _ = parse_acl(bytes, p, false);
}

/// Valid seeds of every format, to be mutated.
fn seeds() -> Vec<Vec<u8>> {
    vec![
        idx_bytes(0x08, &[3, 2, 2], &[1; 12]),
        idx_bytes(0x0C, &[2], &[0, 0, 0, 1, 0, 0, 0, 2]),
        norb_bytes(0x1E3D4C55, &[1, 2, 2, 2], &[9; 8]),
        norb_bytes(0x1E3D4C54, &[2], &[1, 0, 0, 0, 2, 0, 0, 0]),
        {
            let mut r = vec![3u8];
            r.extend([5u8; 3072]);
            r
        },
        b"1\tgood film\n0\tbad film\n".to_vec(),
        br#"{"text": "ok", "label": 1}"#.to_vec(),
        b"a:1 b_c:2 #label#:positive\n".to_vec(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: RngSeed::Fixed(2011), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        run_all(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_plausible_header_never_panic(code in 0u8..16, rank in 0u8..6, rest in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut b = vec![0, 0, code, rank];
        b.extend(rest);
        run_all(&b);
        run_all(&gz(&b));
    }

    #[test]
    fn mutated_valid_files_never_panic(
        which in 0usize..8,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        compress in any::<bool>(),
    ) {
        let mut b = seeds().swap_remove(which);
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        b.truncate(cut.index(b.len() + 1).max(1));
        if compress {
            b = gz(&b);
        }
        run_all(&b);
    }

    #[test]
    fn streamed_idx_reads_within_the_bound(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        compress in any::<bool>(),
    ) {
        // The block reader `relu predict` uses: a file whose header claims millions of images
        // must not get a 64 MiB block buffer for its few bytes.
        let mut b = seeds().swap_remove(which);
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        if compress {
            b = gz(&b);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.idx");
        std::fs::write(&path, &b).unwrap();
        let ((), peak) = counting_alloc::peak_bytes(|| {
            if let Ok(mut chunks) = idx::read_idx_chunks(&path) {
                while let Ok(Some(_)) = chunks.next_chunk(10_000) {}
            }
        });
        prop_assert!(peak <= allocation_bound(b.len()), "{} bytes allocated {peak}", b.len());
    }

    #[test]
    fn corrupted_gzip_never_panics(which in 0usize..8, at in any::<prop::sample::Index>(), v in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut b = gz(&seeds()[which]);
        let i = at.index(b.len());
        b[i] ^= v | 1;
        b.truncate(cut.index(b.len() + 1).max(2));
        run_all(&b);
    }
}

/// Issue: a 0.6 MB gzip of 684,000 valid images passed every per-file limit, then the
/// train/validation split copied the whole training matrix (2.1 GB more). The split may allocate
/// the validation part (and bookkeeping), never a second copy of the training features.
#[test]
fn the_validation_split_does_not_copy_the_training_set() {
    use relu_core::{Features, Targets};
    use relu_data::{Dataset, TrainTest};
    let (dim, n, valid) = (100, 50_000, 1_000);
    let set = |len: usize| Dataset {
        inputs: Features::Dense(nalgebra::DMatrix::from_element(dim, len, 0.5)),
        targets: Targets::Classes(vec![1; len]),
    };
    let tt = TrainTest { train: set(n), test: set(10), num_classes: 10, shape: vec![10, 10] };
    let (splits, peak) = counting_alloc::peak_bytes(|| tt.hold_out_last(valid).unwrap());
    assert_eq!((splits.train.len(), splits.valid.len()), (n - valid, valid));
    let valid_bytes = dim * valid * 4 + valid * 4;
    let train_bytes = dim * n * 4;
    assert!(peak <= 2 * valid_bytes + (1 << 16), "the split allocated {peak} bytes; validation is {valid_bytes}, training {train_bytes}");
}
