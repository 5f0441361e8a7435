//! IDX, MNIST-directory, CIFAR-10 and small NORB loaders on fixtures written here, including
//! every kind of bad input.

mod common;

use std::path::Path;

use common::{gz, idx_bytes, labels, mnist_images, norb_bytes, pixels, write};
use relu_data::idx::{IdxDtype, parse_idx, read_idx};
use relu_data::norb::{self, NorbOptions, Part, parse_norb};
use relu_data::{DataError, Scaling, cifar, mnist};

fn msg(e: DataError) -> String {
    e.to_string()
}

#[test]
fn idx_reads_every_dtype_big_endian() {
    let p = Path::new("t.idx");
    let cases: [(u8, Vec<u8>, Vec<f64>); 6] = [
        (0x08, vec![0, 255], vec![0.0, 255.0]),
        (0x09, vec![0x80, 0x7f], vec![-128.0, 127.0]),
        (0x0B, vec![0xff, 0xfe, 0x01, 0x00], vec![-2.0, 256.0]),
        (0x0C, [(-5i32).to_be_bytes(), 70000i32.to_be_bytes()].concat(), vec![-5.0, 70000.0]),
        (0x0D, [1.5f32.to_be_bytes(), (-0.25f32).to_be_bytes()].concat(), vec![1.5, -0.25]),
        (0x0E, [1e300f64.to_be_bytes(), 2.0f64.to_be_bytes()].concat(), vec![1e300, 2.0]),
    ];
    for (code, payload, want) in cases {
        let a = parse_idx(&idx_bytes(code, &[2], &payload), p).unwrap();
        assert_eq!(a.dtype(), IdxDtype::from_code(code).unwrap());
        assert_eq!(a.dims(), &[2]);
        assert_eq!((0..2).map(|i| a.get(i)).collect::<Vec<_>>(), want, "code {code:#x}");
        // Same through gzip.
        assert_eq!(parse_idx(&gz(&idx_bytes(code, &[2], &payload)), p).unwrap(), a);
    }
}

#[test]
fn idx_any_rank_including_scalar_and_rank_four() {
    let p = Path::new("t.idx");
    let a = parse_idx(&idx_bytes(0x08, &[], &[42]), p).unwrap();
    assert_eq!((a.dims().len(), a.len(), a.get(0)), (0, 1, 42.0));
    let payload: Vec<u8> = (0..24).collect();
    let a = parse_idx(&idx_bytes(0x08, &[2, 3, 2, 2], &payload), p).unwrap();
    assert_eq!(a.dims(), &[2, 3, 2, 2]);
    assert_eq!(a.as_u8().unwrap(), payload.as_slice());
}

#[test]
fn idx_write_read_round_trip_plain_and_gz() {
    let dir = tempfile::tempdir().unwrap();
    let a = relu_data::idx::IdxArray::from_u8(vec![3, 2, 2], (0..12).collect()).unwrap();
    for gzip in [false, true] {
        let p = dir.path().join(format!("a{gzip}"));
        a.write(&p, gzip).unwrap();
        assert_eq!(read_idx(&p).unwrap(), a);
    }
    assert!(relu_data::idx::IdxArray::from_u8(vec![3, 2], vec![0; 5]).is_err());
}

#[test]
fn idx_bad_inputs_name_file_offset_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Wrong magic.
    let p = write(d, "wrong-magic", &[1, 2, 8, 1, 0, 0, 0, 1, 7]);
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("wrong-magic") && e.contains("offset 0") && e.contains("two zero bytes"), "{e}");
    // Unknown type code.
    let p = write(d, "bad-type", &idx_bytes(0x0A, &[1], &[0]));
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("bad-type") && e.contains("offset 2") && e.contains("0x0A"), "{e}");
    // Truncated header.
    let p = write(d, "short-header", &[0, 0, 8, 3, 0, 0]);
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("short-header") && e.contains("12 bytes of IDX dimensions"), "{e}");
    // Truncated payload (plain): dims disagree with the file size.
    let p = write(d, "truncated", &idx_bytes(0x08, &[10, 28, 28], &[0; 100]));
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("truncated") && e.contains("offset 16") && e.contains("7840 bytes") && e.contains("100 bytes follow"), "{e}");
    // Trailing garbage.
    let p = write(d, "trailing", &idx_bytes(0x08, &[2], &[1, 2, 3]));
    assert!(matches!(read_idx(&p), Err(DataError::Malformed { offset: 8, .. })));
    // Truncated payload inside gzip: offset counts decompressed bytes.
    let p = write(d, "truncated.gz", &gz(&idx_bytes(0x08, &[10, 28, 28], &[0; 100])));
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("truncated.gz") && e.contains("offset 116") && e.contains("ends after 100"), "{e}");
    // Absurd dims: refused before allocating, plain and gz.
    let absurd = idx_bytes(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[0; 8]);
    for (name, bytes) in [("absurd", absurd.clone()), ("absurd.gz", gz(&absurd))] {
        let p = write(d, name, &bytes);
        let e = msg(read_idx(&p).unwrap_err());
        assert!(e.contains(name) && (e.contains("at most") || e.contains("fits in memory")), "{e}");
    }
    let p = write(d, "big.gz", &gz(&idx_bytes(0x0E, &[u32::MAX, 16], &[0; 8])));
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("big.gz") && e.contains("at most"), "{e}");
    // 1.5 GB of bytes announced by a tiny gzip file: over the 1 GiB per-file bound, refused
    // before reading.
    let p = write(d, "bomb.gz", &gz(&idx_bytes(0x08, &[1_500, 1_000_000], &[0; 8])));
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("bomb.gz") && e.contains("at most 1073741824 bytes") && e.contains("1500000000 bytes"), "{e}");
    // A corrupt gzip stream is an I/O error naming the file, not a panic.
    let mut bad = gz(&idx_bytes(0x08, &[4], &[1, 2, 3, 4]));
    let n = bad.len();
    bad[n / 2] ^= 0xff;
    bad.truncate(n - 3);
    let p = write(d, "corrupt.gz", &bad);
    let e = msg(read_idx(&p).unwrap_err());
    assert!(e.contains("corrupt.gz"), "{e}");
    // Missing file.
    let e = msg(read_idx(&d.join("nope")).unwrap_err());
    assert!(e.contains("nope") && e.contains("open"), "{e}");
}

fn write_mnist_dir(dir: &Path, names: [&str; 4], n_train: usize, n_test: usize, gzip: bool) {
    let enc = |b: Vec<u8>| if gzip { gz(&b) } else { b };
    let lab = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    write(dir, names[0], &enc(idx_bytes(8, &[n_train as u32, 28, 28], &mnist_images(n_train))));
    write(dir, names[1], &enc(idx_bytes(8, &[n_train as u32], &lab(n_train))));
    write(dir, names[2], &enc(idx_bytes(8, &[n_test as u32, 28, 28], &mnist_images(n_test))));
    write(dir, names[3], &enc(idx_bytes(8, &[n_test as u32], &lab(n_test))));
}

#[test]
fn mnist_dir_accepts_every_spelling() {
    let spellings: [([&str; 4], bool); 3] = [
        (["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"], false),
        (["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], true),
        (["train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"], false),
    ];
    for (names, gzip) in spellings {
        let dir = tempfile::tempdir().unwrap();
        write_mnist_dir(dir.path(), names, 30, 7, gzip);
        let tt = mnist::load_dir(dir.path()).unwrap();
        assert_eq!(pixels(&tt.train).shape(), (784, 30));
        assert_eq!(tt.test.len(), 7);
        assert_eq!(tt.shape, vec![28, 28]);
        assert_eq!(tt.num_classes, 10);
        assert_eq!(labels(&tt.train)[..3], [0, 1, 2]);
        // Example 1, pixel 0 is 7/255: one example per column, scaled to [0, 1].
        assert_eq!(pixels(&tt.train)[(0, 1)], 7.0 / 255.0);
        assert_eq!(pixels(&tt.train)[(5, 0)], 5.0 / 255.0);
        let s = tt.hold_out_last(10).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (20, 10, 7));
        assert_eq!(labels(&s.valid)[0], 0, "validation is the last 10 of the training file");
    }
}

#[test]
fn mnist_errors_missing_files_mismatched_counts_bad_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = msg(mnist::load_dir(d).unwrap_err());
    assert!(e.contains("train-images-idx3-ubyte") && e.contains("train-images.idx3-ubyte.gz"), "{e}");
    let names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    write_mnist_dir(d, names, 5, 5, false);
    write(d, names[1], &idx_bytes(8, &[4], &[0, 1, 2, 3]));
    let e = msg(mnist::load_dir(d).unwrap_err());
    assert!(e.contains("5 images") && e.contains("4 labels"), "{e}");
    write(d, names[1], &idx_bytes(0x0D, &[5], &[0; 20]));
    let e = msg(mnist::load_dir(d).unwrap_err());
    assert!(e.contains("integer label"), "{e}");
    write(d, names[1], &idx_bytes(0x0C, &[5], &[[0u8; 4], [0; 4], (-3i32).to_be_bytes(), [0; 4], [0; 4]].concat()));
    let e = msg(mnist::load_dir(d).unwrap_err());
    assert!(e.contains("offset 16") && e.contains("example 2") && e.contains("-3"), "{e}");
    // A label beyond the ten digits (it used to make a 201-class network); load_pair, for any
    // IDX pair, still accepts it.
    write(d, names[3], &idx_bytes(8, &[5], &[0, 1, 2, 200, 4]));
    write(d, names[1], &idx_bytes(8, &[5], &[0, 1, 2, 3, 4]));
    let e = msg(mnist::load_dir(d).unwrap_err());
    assert!(e.contains("t10k-labels-idx1-ubyte") && e.contains("offset 11") && e.contains("0..10") && e.contains("200"), "{e}");
    assert_eq!(mnist::load_pair(&d.join(names[2]), &d.join(names[3])).unwrap().num_classes, 201);
    assert!(mnist::paper_splits(d).is_err());
    // Float images with a NaN: refused by file and offset (it used to surface as "dataset
    // `dataset` does not fit the network").
    let mut pixels: Vec<u8> = (0..5 * 4).flat_map(|_| 0.5f32.to_be_bytes()).collect();
    pixels[4 * 6..4 * 7].copy_from_slice(&f32::NAN.to_be_bytes());
    write(d, names[2], &idx_bytes(0x0D, &[5, 2, 2], &pixels));
    let e = msg(mnist::load_pair(&d.join(names[2]), &d.join(names[1])).unwrap_err());
    assert!(e.contains(names[2]) && e.contains("offset 40") && e.contains("finite") && e.contains("image 1"), "{e}");
}

#[test]
fn mnist_paper_splits_needs_ten_thousand_training_images() {
    // Valid files in every respect except the training count.
    let dir = tempfile::tempdir().unwrap();
    let names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    write_mnist_dir(dir.path(), names, 30, 5, false);
    assert!(mnist::load_dir(dir.path()).is_ok());
    let e = msg(mnist::paper_splits(dir.path()).unwrap_err());
    assert!(e.contains("validation size `10000`") && e.contains("at most the 30 training examples"), "{e}");
}

#[test]
fn scaling_unit_symmetric_and_standardize_fitted_on_train() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    write_mnist_dir(dir.path(), names, 40, 5, false);
    let base = mnist::load_dir(dir.path()).unwrap().hold_out_last(10).unwrap();

    let density = f64::from(base.train.inputs.density());
    assert!((density - pixels(&base.train).iter().filter(|&&x| x != 0.0).count() as f64 / (784.0 * 30.0)).abs() < 1e-6);
    assert!(density > 0.99, "the fixture has few zero pixels: {density}");

    let mut s = base.clone();
    s.scale(Scaling::Symmetric).unwrap();
    assert!(pixels(&s.train).iter().chain(pixels(&s.test).iter()).all(|&x| (-1.0..=1.0).contains(&x)));
    assert_eq!(pixels(&s.train)[(0, 0)], -1.0);

    let mut s = base.clone();
    let scaler = s.scale(Scaling::Standardize).unwrap();
    for row in pixels(&s.train).row_iter() {
        let n = row.len() as f32;
        let mean = row.sum() / n;
        let var = row.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "mean {mean} var {var}");
    }
    // The test set uses the training statistics, not its own.
    let mut t = pixels(&base.test).clone();
    scaler.apply(&mut t).unwrap();
    assert_eq!(&t, pixels(&s.test));
    let json = serde_json::to_string(&scaler).unwrap();
    assert_eq!(serde_json::from_str::<relu_data::Scaler>(&json).unwrap(), scaler);
    assert!("bogus".parse::<Scaling>().is_err());
}

#[test]
fn scaler_from_outside_is_checked_not_trusted() {
    use relu_data::Scaler;
    // Mismatched lengths or non-finite values in a saved scaler are refused on loading.
    let e = serde_json::from_str::<Scaler>(r#"{"PerFeature":{"shift":[0.0,1.0,2.0],"scale":[1.0,1.0]}}"#).unwrap_err().to_string();
    assert!(e.contains("3 shifts and 2 scales"), "{e}");
    // 1e39 does not fit an f32: with exact float parsing (serde_json's float_roundtrip) the JSON
    // reader refuses it itself; either way it never becomes an infinite scale.
    let e = serde_json::from_str::<Scaler>(r#"{"Global":{"shift":0.0,"scale":1e39}}"#).unwrap_err().to_string();
    assert!(e.contains("scale inf") || e.contains("number out of range"), "{e}");
    assert!(serde_json::from_str::<Scaler>(r#"{"PerFeature":{"shift":[0.5],"scale":[2.0]}}"#).is_ok());
    // A scaler built in code is checked when applied, and the matrix left unchanged.
    let mut m = nalgebra::DMatrix::from_element(3, 2, 1.0f32);
    let bad = Scaler::PerFeature { shift: vec![0.0; 3], scale: vec![1.0; 2] };
    let e = msg(bad.apply(&mut m).unwrap_err());
    assert!(e.contains("invalid scaler") && e.contains("3 shifts and 2 scales"), "{e}");
    let e = msg(Scaler::PerFeature { shift: vec![0.0; 4], scale: vec![2.0; 4] }.apply(&mut m).unwrap_err());
    assert!(e.contains("fitted on 4 features") && e.contains("found 3 rows"), "{e}");
    assert_eq!(m, nalgebra::DMatrix::from_element(3, 2, 1.0f32));
    Scaler::PerFeature { shift: vec![1.0, 0.0, 0.0], scale: vec![1.0, 2.0, 3.0] }.apply(&mut m).unwrap();
    assert_eq!(m.column(1).as_slice(), [0.0, 2.0, 3.0]);
    // Splits whose sets disagree on the feature count are reported, not scaled.
    let dir = tempfile::tempdir().unwrap();
    let names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    write_mnist_dir(dir.path(), names, 20, 5, false);
    let mut s = mnist::load_dir(dir.path()).unwrap().hold_out_last(5).unwrap();
    s.test.inputs = relu_core::Features::Dense(pixels(&s.test).rows(0, 10).into_owned());
    let before = s.clone();
    let e = msg(s.scale(Scaling::Standardize).unwrap_err());
    assert!(e.contains("test set has 10 features") && e.contains("training set has 784"), "{e}");
    assert_eq!(s, before);
}

fn cifar_records(n: usize, label: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(label(i));
        v.extend((0..3072).map(|k| ((i + k) % 256) as u8));
    }
    v
}

#[test]
fn cifar_loads_batches_and_halves_the_test_file() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&sub).unwrap();
    for k in 1..=5 {
        write(&sub, &format!("data_batch_{k}.bin"), &cifar_records(3, |i| (i + k) as u8 % 10));
    }
    write(&sub, "test_batch.bin.gz", &gz(&cifar_records(10_000, |i| (i % 10) as u8)));
    let tt = cifar::load_dir(dir.path()).unwrap();
    assert_eq!(pixels(&tt.train).shape(), (3072, 15));
    assert_eq!(labels(&tt.train)[..4], [1, 2, 3, 2]);
    assert_eq!(pixels(&tt.train)[(1024, 1)], (1 + 1024) as f32 % 256.0 / 255.0, "green plane starts at 1024");
    let s = cifar::paper_splits(dir.path()).unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (15, 5000, 5000));
    assert_eq!(pixels(&s.test)[(0, 0)], (5000 % 256) as f32 / 255.0, "test is the second half");
    write(&sub, "test_batch.bin.gz", &gz(&cifar_records(4_999, |i| (i % 10) as u8)));
    let e = msg(cifar::paper_splits(dir.path()).unwrap_err());
    assert!(e.contains("CIFAR-10 test file size `4999 images`") && e.contains("at least the 5000"), "{e}");
}

#[test]
fn cifar_bad_inputs() {
    let p = Path::new("data_batch_1.bin");
    let mut recs = cifar_records(2, |_| 3);
    recs.pop();
    let e = msg(cifar::parse_batch(&recs, p).unwrap_err());
    assert!(e.contains("data_batch_1.bin") && e.contains("offset 3073") && e.contains("3072 bytes into record 1"), "{e}");
    let recs = cifar_records(2, |i| if i == 1 { 10 } else { 0 });
    let e = msg(cifar::parse_batch(&recs, p).unwrap_err());
    assert!(e.contains("offset 3073") && e.contains("label byte 0–9") && e.contains("found 10"), "{e}");
    let e = msg(cifar::parse_batch(&[], p).unwrap_err());
    assert!(e.contains("data_batch_1.bin") && e.contains("empty file"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(cifar::load_dir(dir.path()), Err(DataError::MissingFile { .. })));
}

const U8: u32 = 0x1E3D4C55;
const I32: u32 = 0x1E3D4C54;

fn write_norb(dir: &Path, part: &str, n: usize, side: usize, gzip: bool) {
    let enc = |b: Vec<u8>| if gzip { gz(&b) } else { b };
    let ext = if gzip { ".mat.gz" } else { ".mat" };
    let px: Vec<u8> = (0..n * 2 * side * side).map(|j| (j % 251) as u8).collect();
    let cats: Vec<u8> = (0..n).flat_map(|i| ((i % 5) as i32).to_le_bytes()).collect();
    let info: Vec<u8> = (0..n * 4).flat_map(|i| (i as i32).to_le_bytes()).collect();
    let stem = format!("smallnorb-5x46789x9x18x6x2x96x96-{part}");
    write(dir, &format!("{stem}-dat{ext}"), &enc(norb_bytes(U8, &[n as i32, 2, side as i32, side as i32], &px)));
    write(dir, &format!("{stem}-cat{ext}"), &enc(norb_bytes(I32, &[n as i32], &cats)));
    write(dir, &format!("{stem}-info{ext}"), &enc(norb_bytes(I32, &[n as i32, 4], &info)));
}

#[test]
fn norb_loads_stereo_pairs_and_area_averages() {
    let dir = tempfile::tempdir().unwrap();
    write_norb(dir.path(), "training", 6, 6, true);
    write_norb(dir.path(), "testing", 3, 6, false);
    let full = norb::load_part(dir.path(), Part::Training, None).unwrap();
    assert_eq!(pixels(&full.data).shape(), (72, 6));
    assert_eq!(full.shape, vec![2, 6, 6]);
    assert_eq!(labels(&full.data), vec![0, 1, 2, 3, 4, 0]);
    let small = norb::load_part(dir.path(), Part::Training, Some(2)).unwrap();
    assert_eq!(pixels(&small.data).shape(), (8, 6));
    // Block (0, 0) of camera 0 of pair 0 averages pixels {0,1,2,6,7,8,12,13,14}.
    let want = [0, 1, 2, 6, 7, 8, 12, 13, 14].iter().sum::<i32>() as f32 / 9.0 / 255.0;
    assert!((pixels(&small.data)[(0, 0)] - want).abs() < 1e-6);
    // Camera 1 block (0, 0) starts at pixel 36.
    let want = [36, 37, 38, 42, 43, 44, 48, 49, 50].iter().sum::<i32>() as f32 / 9.0 / 255.0;
    assert!((pixels(&small.data)[(4, 0)] - want).abs() < 1e-6);
    let opts = NorbOptions { side: Some(3), valid_len: 2 };
    let mut s = norb::paper_splits(dir.path(), &opts).unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (4, 2, 3));
    assert_eq!(s.shape, vec![2, 3, 3]);
    // Pixels in [0, 1] like the other loaders; the paper's [−1, 1] is one scaling away.
    let unit = s.clone();
    assert!(pixels(&unit.train).iter().chain(pixels(&unit.test).iter()).all(|&x| (0.0..=1.0).contains(&x)));
    assert_eq!(unit.train, norb::load_part(dir.path(), Part::Training, Some(3)).unwrap().data.select(&[0, 1, 2, 3]));
    s.scale(Scaling::Symmetric).unwrap();
    assert!(pixels(&s.train).iter().all(|&x| (-1.0..=1.0).contains(&x)));
    assert_eq!(pixels(&s.test), &pixels(&unit.test).map(|x| 2.0 * x - 1.0));
    assert_eq!(NorbOptions::default(), NorbOptions { side: Some(32), valid_len: 4_300 });
    assert!(matches!(norb::load_part(dir.path(), Part::Training, Some(4)), Err(DataError::InvalidParameter { .. })));
    assert!(norb::check_file(&dir.path().join("smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz")).is_ok());
}

#[test]
fn norb_reads_every_element_type() {
    let p = Path::new("x.mat");
    let cases: [(u32, Vec<u8>, f64); 5] = [
        (0x1E3D4C55, vec![200], 200.0),
        (0x1E3D4C56, (-7i16).to_le_bytes().to_vec(), -7.0),
        (0x1E3D4C54, (-70000i32).to_le_bytes().to_vec(), -70000.0),
        (0x1E3D4C51, 0.5f32.to_le_bytes().to_vec(), 0.5),
        (0x1E3D4C53, 1e200f64.to_le_bytes().to_vec(), 1e200),
    ];
    for (magic, payload, want) in cases {
        let a = parse_norb(&norb_bytes(magic, &[1], &payload), p).unwrap();
        assert_eq!((a.dims(), a.get(0)), (&[1usize][..], want));
        assert_eq!(parse_norb(&a.to_bytes(), p).unwrap(), a);
    }
    // Rank 4 stores four dims.
    let a = parse_norb(&norb_bytes(U8, &[1, 2, 1, 2], &[1, 2, 3, 4]), p).unwrap();
    assert_eq!(a.dims(), &[1, 2, 1, 2]);
}

#[test]
fn norb_bad_inputs() {
    let p = Path::new("smallnorb-training-dat.mat");
    let e = msg(parse_norb(&norb_bytes(0x1E3D4C52, &[1], &[0]), p).unwrap_err());
    assert!(e.contains("smallnorb-training-dat.mat") && e.contains("offset 0") && e.contains("0x1E3D4C52"), "{e}");
    let e = msg(parse_norb(&norb_bytes(U8, &[2, 2, 96, 96], &[0; 1000]), p).unwrap_err());
    assert!(e.contains("offset 24") && e.contains("36864 bytes") && e.contains("1000 bytes follow"), "{e}");
    let e = msg(parse_norb(&norb_bytes(U8, &[-1], &[]), p).unwrap_err());
    assert!(e.contains("offset 8") && e.contains("non-negative"), "{e}");
    let e = msg(parse_norb(&gz(&norb_bytes(0x1E3D4C53, &[i32::MAX, i32::MAX, i32::MAX], &[0; 16])), p).unwrap_err());
    assert!(e.contains("at most") || e.contains("fits in memory"), "{e}");
    let mut huge_rank = U8.to_le_bytes().to_vec();
    huge_rank.extend_from_slice(&1_000_000i32.to_le_bytes());
    let e = msg(parse_norb(&huge_rank, p).unwrap_err());
    assert!(e.contains("offset 4") && e.contains("rank"), "{e}");
    // Categories out of range and count mismatches.
    let dir = tempfile::tempdir().unwrap();
    write_norb(dir.path(), "training", 3, 3, false);
    let cat = dir.path().join("smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat");
    std::fs::write(&cat, norb_bytes(I32, &[3], &[0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0])).unwrap();
    let e = msg(norb::load_part(dir.path(), Part::Training, None).unwrap_err());
    assert!(e.contains("training-cat.mat") && e.contains("offset 24") && e.contains("category 0–4") && e.contains("found 7"), "{e}");
    std::fs::write(&cat, norb_bytes(I32, &[2], &[0; 8])).unwrap();
    let e = msg(norb::load_part(dir.path(), Part::Training, None).unwrap_err());
    assert!(e.contains("3 image pairs") && e.contains("2 categories"), "{e}");
    assert!(matches!(norb::load_part(dir.path(), Part::Testing, None), Err(DataError::MissingFile { .. })));
}

#[test]
fn idx_chunks_stream_the_same_bytes_and_catch_short_and_long_files() {
    use relu_data::idx::{read_idx, read_idx_chunks};
    let dir = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..25 * 6).map(|i| (i % 251) as u8).collect();
    let bytes = idx_bytes(8, &[25, 2, 3], &payload);
    for (name, file) in [("plain", bytes.clone()), ("gzip", gz(&bytes))] {
        let p = write(dir.path(), &format!("{name}.idx"), &file);
        let whole = read_idx(&p).unwrap();
        let mut chunks = read_idx_chunks(&p).unwrap();
        assert_eq!(chunks.dims(), [25, 2, 3]);
        let mut sizes = Vec::new();
        let mut joined = Vec::new();
        while let Some(c) = chunks.next_chunk(10).unwrap() {
            sizes.push(c.dims()[0]);
            assert_eq!(&c.dims()[1..], [2, 3]);
            joined.extend(c.to_f32(false));
        }
        assert_eq!(sizes, [10, 10, 5], "{name}");
        assert_eq!(joined, whole.to_f32(false), "{name}");
        assert!(chunks.next_chunk(10).unwrap().is_none());
    }
    // A gzip file shorter than its header says fails at the block where it ends; one with
    // trailing bytes after the last block; a plain one of the wrong length at once.
    let short = write(dir.path(), "short.gz", &gz(&bytes[..bytes.len() - 7]));
    let mut c = read_idx_chunks(&short).unwrap();
    assert!(c.next_chunk(10).unwrap().is_some() && c.next_chunk(10).unwrap().is_some());
    let e = msg(c.next_chunk(10).unwrap_err());
    assert!(e.contains("short.gz") && e.contains("input ends"), "{e}");
    let long = write(dir.path(), "long.gz", &gz(&[bytes.clone(), vec![1, 2]].concat()));
    let e = msg(read_idx_chunks(&long)
        .and_then(|mut c| {
            while c.next_chunk(100)?.is_some() {}
            Ok(())
        })
        .unwrap_err());
    assert!(e.contains("long.gz") && e.contains("no bytes after"), "{e}");
    let plain = write(dir.path(), "plain-long.idx", &[bytes, vec![0]].concat());
    let e = msg(read_idx_chunks(&plain).unwrap_err());
    assert!(e.contains("plain-long.idx") && e.contains("151 bytes follow"), "{e}");
}
