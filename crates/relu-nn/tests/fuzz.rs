//! Property tests for the safetensors readers (`model.safetensors` and the resumable
//! `train_state.safetensors`): arbitrary and mutated files give `Ok` or an error, never a panic,
//! and never allocate more than a small multiple of the file, whatever sizes the header claims.

// The counting allocator is shared with relu-data's parser fuzzing.
#[path = "../../relu-data/tests/common/counting_alloc.rs"]
mod counting_alloc;

use std::collections::HashMap;
use std::path::Path;

use nalgebra::DMatrix;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use rand::Rng;
use relu_core::Activation;
use relu_core::testing::rng;
use relu_nn::checkpoint::{load_model, load_training, save_model, save_training};
use relu_nn::{Dataset, Features, Network, NetworkSpec, OutputKind, Sgd, Silent, Targets, TrainConfig, Trainer};

#[global_allocator]
static ALLOC: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

/// A model file and a training state (with momentum buffers and a kept best network).
fn seeds() -> [Vec<u8>; 2] {
    let spec = NetworkSpec::mlp(12, &[16, 8], Activation::Rectifier, 1e-3, OutputKind::Softmax { classes: 3 });
    let mut net = Network::new(spec, &mut rng(1)).unwrap();
    let mut r = rng(2);
    let x = DMatrix::from_fn(12, 60, |_, _| r.random_range(0.0f32..1.0));
    let data = Dataset::new(Features::Dense(x), Targets::Classes((0..60).map(|i| i % 3).collect())).unwrap();
    let cfg = TrainConfig { epochs: 2, sgd: Sgd { lr: 0.05, momentum: 0.5, ..Sgd::default() }, threads: 1, ..TrainConfig::default() };
    let mut t = Trainer::new(cfg).unwrap();
    t.fit(&mut net, &data, Some(&data), &mut Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (model, state) = (dir.path().join("m"), dir.path().join("s"));
    save_model(&model, &net, &HashMap::from([("input".to_owned(), "{}".to_owned())])).unwrap();
    save_training(&state, &net, t.state().unwrap(), t.config()).unwrap();
    [std::fs::read(model).unwrap(), std::fs::read(state).unwrap()]
}

/// Loads `bytes` both ways and checks the peak allocation.
fn load_all(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let ((), peak) = counting_alloc::peak_bytes(|| {
        let _ = load_model(Path::new(&path));
        let _ = load_training(Path::new(&path));
    });
    // The file is read whole, then every tensor (network, best network, velocities) copied.
    let bound = (1 << 20) + 16 * bytes.len();
    assert!(peak <= bound, "loading {} bytes allocated {peak} bytes at once (bound {bound})", bytes.len());
}

/// The header's JSON region: after the 8-byte length, up to the first tensor byte.
fn header_len(b: &[u8]) -> usize {
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    (8 + n).min(b.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, rng_seed: RngSeed::Fixed(2011), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        load_all(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = seeds()[which].clone();
        // Edits land in the JSON header (shapes, offsets, architecture, state), where lies live.
        let h = header_len(&b);
        for (i, v) in edits {
            let i = 8 + i.index(h - 8);
            b[i] = v;
        }
        b.truncate(cut.index(b.len() + 1).max(h.min(b.len())));
        load_all(&b);
    }

    #[test]
    fn inflated_numbers_in_the_header_are_refused_without_allocating(which in 0usize..2, at in any::<prop::sample::Index>(), digits in 1usize..12) {
        // Append digits to a number in the header: a shape of 16 becomes 16999999, a layer of
        // 8 units 8999, an epoch count 2 billion, ...
        let b = seeds()[which].clone();
        let h = header_len(&b);
        let header = &b[8..h];
        let numbers: Vec<usize> = (1..header.len()).filter(|&i| header[i - 1].is_ascii_digit() && !header[i].is_ascii_digit()).collect();
        let i = numbers[at.index(numbers.len())];
        let mut json = header[..i].to_vec();
        json.extend(std::iter::repeat_n(b'9', digits));
        json.extend_from_slice(&header[i..]);
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend(json);
        out.extend_from_slice(&b[h..]);
        load_all(&out);
    }
}
