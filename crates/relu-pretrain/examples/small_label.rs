//! The small-label experiment on real MNIST: the first UNLABELED training images pre-train a
//! 784-HIDDEN rectifier network layer by layer; the first LABELED of them fine-tune it and a
//! randomly initialised twin for the same epochs; both are tested on the first 2,000 test images.
//!
//! `cargo run --release -p relu-pretrain --example small_label -- MNIST_DIR [LABELED UNLABELED HIDDEN PRE_EPOCHS FT_EPOCHS FT_LR]`

use std::io::Read;

use nalgebra::DMatrix;
use relu_core::{Activation, DispatchMode, SparseBatch};
use relu_nn::{Dataset, Features, Network, NetworkSpec, OutputKind, Sgd, Silent, Targets, TrainConfig, Trainer, Workspace};
use relu_pretrain::{Corruption, PretrainConfig, initialise, pretrain};

/// The decompressed bytes of `dir/name`, checked to hold at least `need` bytes.
fn read(dir: &str, name: &str, need: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let path = std::path::Path::new(dir).join(name);
    let mut b = Vec::new();
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e} (expected MNIST's gzip IDX files in {dir})", path.display()))?;
    flate2::read::GzDecoder::new(file).read_to_end(&mut b).map_err(|e| format!("{}: not a gzip file ({e})", path.display()))?;
    if b.len() < need {
        return Err(format!("{}: {} bytes after decompression, expected at least {need}", path.display(), b.len()).into());
    }
    Ok(b)
}

const USAGE: &str = "usage: small_label MNIST_DIR [LABELED UNLABELED HIDDEN PRE_EPOCHS FT_EPOCHS FT_LR]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let dir = a.first().ok_or(USAGE)?;
    let num = |i: usize, d: f64| -> Result<f64, String> {
        a.get(i).map_or(Ok(d), |v| v.parse().map_err(|_| format!("argument {}: `{v}` is not a number; {USAGE}", i + 1)))
    };
    let (labeled, unlabeled, hidden) = (num(1, 1000.0)? as usize, num(2, 10000.0)? as usize, num(3, 500.0)? as usize);
    let (pre_epochs, ft_epochs, ft_lr) = (num(4, 2.0)? as usize, num(5, 10.0)? as usize, num(6, 0.02)? as f32);
    if labeled == 0 || labeled > unlabeled || unlabeled > 60_000 {
        return Err(format!("expected 1 <= LABELED ({labeled}) <= UNLABELED ({unlabeled}) <= 60000; {USAGE}").into());
    }
    let img = read(dir, "train-images-idx3-ubyte.gz", 16 + unlabeled * 784)?;
    let lab = read(dir, "train-labels-idx1-ubyte.gz", 8 + unlabeled)?;
    let x = DMatrix::from_iterator(784, unlabeled, img[16..16 + unlabeled * 784].iter().map(|&p| p as f32 / 255.0));
    let y: Vec<u32> = lab[8..8 + unlabeled].iter().map(|&l| l as u32).collect();
    let (ti, tl) = (read(dir, "t10k-images-idx3-ubyte.gz", 16 + 2000 * 784)?, read(dir, "t10k-labels-idx1-ubyte.gz", 8 + 2000)?);
    let test = Dataset::new(
        Features::Dense(DMatrix::from_iterator(784, 2000, ti[16..16 + 2000 * 784].iter().map(|&p| p as f32 / 255.0))),
        Targets::Classes(tl[8..2008].iter().map(|&l| l as u32).collect()),
    )?;
    let spec = NetworkSpec::mlp(784, &[hidden], Activation::Rectifier, 0.0, OutputKind::Softmax { classes: 10 });
    let cfg = PretrainConfig { epochs: pre_epochs, corruption: Corruption::Masking(0.25), seed: 7, ..PretrainConfig::default() };
    let pre = pretrain(&spec, &Features::Sparse(SparseBatch::from_dense(&x)), &cfg, &mut |e| {
        println!(
            "pre-train layer {} epoch {}: reconstruction error {:.3}, code zeros {:.1}%",
            e.layer,
            e.epoch,
            e.reconstruction_error,
            100.0 * e.sparsity
        )
    })?;
    let data = Dataset::new(Features::Dense(x.columns(0, labeled).into_owned()), Targets::Classes(y[..labeled].to_vec()))?;
    let ft = TrainConfig { epochs: ft_epochs, sgd: Sgd { lr: ft_lr, ..Sgd::default() }, seed: 3, ..TrainConfig::default() };
    for pretrained in [false, true] {
        let mut net = if pretrained {
            initialise(spec.clone(), &pre, &mut relu_core::seeded_rng(11))?
        } else {
            Network::new(spec.clone(), &mut relu_core::seeded_rng(11))?
        };
        Trainer::new(ft)?.fit(&mut net, &data, None, &mut Silent)?;
        let e = net.evaluate(&test, 500, &mut Workspace::new(&net, DispatchMode::Auto, Default::default()));
        println!(
            "{}: test error {:.2}%",
            if pretrained { "pre-trained init" } else { "random init     " },
            100.0 * e.error.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
