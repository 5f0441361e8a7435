//! `relu inspect`: the paper's analysis of the sparse representations a trained model computes.
//!
//! For each hidden layer, on the first `--examples` test examples:
//! * **exact-zero fraction** (the paper's sparsity) and **dead units** (never active);
//! * the **distribution of active units per example** — the paper's "variable dimensionality":
//!   each input is represented with a different, small number of units;
//! * **stability of the active set** ("information disentangling"): the mean Jaccard similarity
//!   `|A ∩ B| / |A ∪ B|` between the active set `A` of an input `x` and the active set `B` of
//!   `x + ε`, with `ε ~ N(0, σ²)` drawn independently per input value from a seeded RNG
//!   (`--noise σ`, default 0.01, i.e. 1 % of the pixel range). Dense (pixel) inputs get noise on
//!   every value; sparse (bag-of-words) inputs on their non-zero values only, so the set of words
//!   in a document does not change. Two empty sets count as identical;
//! * **linear separability**: the test accuracy of a softmax regression (a relu-nn network
//!   without hidden layers, trained with SGD) fitted on the layer's code of the first
//!   `--probe-train` training examples. Codes are divided by their mean Euclidean norm on those
//!   examples so one learning rate suits every layer. Layer 0, the raw input, is the baseline.

use std::path::PathBuf;

use anyhow::{Context, Result};
use relu_experiment::analysis::{self, ActiveHistogram, as_sparse};
use relu_nn::checkpoint::write_atomic;
use relu_nn::{Features, OutputKind};
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::cmd::train::check_fits;
use crate::data::{self, DataSpec};
use crate::model_dir;
use crate::plots;
use crate::settings::resolve_threads;

#[derive(Debug, Serialize)]
struct Inspection {
    model: String,
    data: String,
    examples: usize,
    noise_sigma: f32,
    probe: ProbeSetup,
    input: InputLayer,
    layers: Vec<LayerReport>,
}

#[derive(Debug, Serialize)]
struct ProbeSetup {
    train_examples: usize,
    test_examples: usize,
    epochs: usize,
    lr: f32,
    batch: usize,
}

#[derive(Debug, Serialize)]
struct InputLayer {
    /// Fraction of exact zeros in the inputs.
    sparsity: f64,
    probe_accuracy: Option<f64>,
}

#[derive(Debug, Serialize)]
struct LayerReport {
    layer: usize,
    units: usize,
    sparsity: f64,
    dead_units: usize,
    active_per_example: ActiveHistogram,
    jaccard: f64,
    probe_accuracy: Option<f64>,
}

/// The per-unit activity plot `relu inspect` writes.
pub const USAGE_FILE: &str = "inspect_unit_usage.svg";

/// Runs `relu inspect`.
///
/// # Errors
/// Unreadable model or data, data that does not fit the model, unwritable output.
pub fn run(args: &InspectArgs) -> Result<u8> {
    let model = model_dir::load(&args.model)?;
    let spec_text = args.data.clone().unwrap_or_else(|| model.input.data.clone());
    let spec = DataSpec::from_flag(&spec_text)?;
    if args.examples == 0 || args.probe_train == 0 || args.probe_epochs == 0 {
        anyhow::bail!("--examples, --probe-train and --probe-epochs: expected at least 1");
    }
    if !(args.noise.is_finite() && args.noise >= 0.0) {
        anyhow::bail!("--noise: invalid standard deviation {}: expected a finite number >= 0", args.noise);
    }
    let (train, test) = data::sets_for_model(&spec, &model.input, model.vectorizer.as_ref())?;
    check_fits(&model.net, &test, &spec_text, &model.path)?;
    let test = test.select(&(0..args.examples.min(test.len())).collect::<Vec<_>>());
    let train = train.select(&(0..args.probe_train.min(train.len())).collect::<Vec<_>>());
    let net = &model.net;
    let threads = resolve_threads(args.threads);
    let probe_setup = analysis::Probe { epochs: args.probe_epochs, seed: args.seed, threads, ..analysis::Probe::default() };
    let pool = relu_core::thread_pool(threads)?;
    // Also how often each unit is on over the analysed examples (train's active_units.svg shows
    // the other view: how many units each example uses).
    let (inspection, usage) = pool.install(|| -> Result<(Inspection, Vec<Vec<u32>>)> {
        let codes = analysis::hidden_codes(net, &test.inputs);
        let noisy = analysis::hidden_codes(net, &analysis::add_noise(&test.inputs, args.noise, args.seed));
        let train_codes = analysis::hidden_codes(net, &train.inputs);
        let classes = match net.spec().output {
            OutputKind::Softmax { classes } => Some(classes),
            OutputKind::Ratings { levels } => Some(levels),
            OutputKind::Regression { .. } => None,
        };
        let probe = |x_train: &Features, x_test: &Features| -> Result<Option<f64>> {
            match classes {
                Some(k) => Ok(analysis::probe_accuracy(x_train, &train.targets, x_test, &test.targets, k, &probe_setup)?),
                None => Ok(None),
            }
        };
        let input = InputLayer { sparsity: 1.0 - f64::from(test.inputs.density()), probe_accuracy: probe(&train.inputs, &test.inputs)? };
        let (mut layers, mut usage) = (Vec::new(), Vec::new());
        for (l, ((code, noisy), train_code)) in codes.iter().zip(&noisy).zip(&train_codes).enumerate() {
            let units = net.spec().hidden[l].units;
            let s = as_sparse(code);
            let stats = analysis::code_stats(code, units);
            usage.push(stats.firing_counts.iter().map(|&c| u32::try_from(c).unwrap_or(u32::MAX)).collect());
            layers.push(LayerReport {
                layer: l + 1,
                units,
                sparsity: stats.zero_fraction,
                dead_units: stats.dead_units,
                active_per_example: ActiveHistogram::new(&stats.active_per_example, units),
                jaccard: analysis::mean_jaccard(&s, &as_sparse(noisy)),
                probe_accuracy: probe(train_code, code)?,
            });
        }
        let inspection = Inspection {
            model: model.path.display().to_string(),
            data: spec_text.clone(),
            examples: test.len(),
            noise_sigma: args.noise,
            probe: ProbeSetup {
                train_examples: train.len(),
                test_examples: test.len(),
                epochs: args.probe_epochs,
                lr: probe_setup.lr,
                batch: probe_setup.batch,
            },
            input,
            layers,
        };
        Ok((inspection, usage))
    })?;
    let usage_svg = plots::unit_usage(&format!("How often each unit is active ({} test examples)", test.len()), &usage, test.len())?;
    let per = |f: &dyn Fn(&LayerReport) -> Option<f64>| -> Vec<(usize, f64)> {
        inspection.layers.iter().filter_map(|l| Some((l.layer, f(l)?))).collect()
    };
    let mut sparsity = vec![(0, inspection.input.sparsity)];
    sparsity.extend(per(&|l| Some(l.sparsity)));
    let mut probe: Vec<(usize, f64)> = inspection.input.probe_accuracy.map(|a| (0, a)).into_iter().collect();
    probe.extend(per(&|l| l.probe_accuracy));
    let mut series =
        vec![("sparsity (exact zeros)".to_owned(), sparsity), ("active-set Jaccard under noise".to_owned(), per(&|l| Some(l.jaccard)))];
    if !probe.is_empty() {
        series.push(("linear-probe accuracy".to_owned(), probe));
    }
    let layers_svg = plots::per_layer("Per-layer sparsity, stability and linear separability", &series)?;
    let mut json = serde_json::to_vec_pretty(&inspection)?;
    json.push(b'\n');

    let out: PathBuf = match &args.out {
        Some(d) => d.clone(),
        None if args.model.is_dir() => args.model.clone(),
        None => args.model.parent().map(PathBuf::from).unwrap_or_default(),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    write_atomic(&out.join(USAGE_FILE), usage_svg.as_bytes())?;
    write_atomic(&out.join("inspect_layers.svg"), layers_svg.as_bytes())?;
    write_atomic(&out.join("inspect.json"), &json)?;

    if args.json {
        print!("{}", String::from_utf8_lossy(&json));
    } else {
        print_table(&inspection);
        println!("written: {}", ["inspect.json", USAGE_FILE, "inspect_layers.svg"].map(|f| out.join(f).display().to_string()).join(", "));
    }
    Ok(0)
}

fn print_table(i: &Inspection) {
    println!("{} on {} ({} test examples, noise σ = {})", i.model, i.data, i.examples, i.noise_sigma);
    println!("layer  units  sparsity  dead  active/example (mean ± std, min–max)  Jaccard  probe accuracy");
    let acc = |a: Option<f64>| a.map_or("-".to_owned(), |a| format!("{:.2} %", 100.0 * a));
    println!("input  {:>5}  {:>6.1} %  {:>4}  {:>38}  {:>7}  {}", "", 100.0 * i.input.sparsity, "", "", "", acc(i.input.probe_accuracy));
    for l in &i.layers {
        let a = &l.active_per_example;
        let active = format!("{:.1} ± {:.1}, {}–{}", a.mean, a.std, a.min, a.max);
        println!(
            "{:>5}  {:>5}  {:>6.1} %  {:>4}  {:>38}  {:>7.3}  {}",
            l.layer,
            l.units,
            100.0 * l.sparsity,
            l.dead_units,
            active,
            l.jaccard,
            acc(l.probe_accuracy)
        );
    }
    println!(
        "dead: zero on every example. Jaccard: overlap |A∩B|/|A∪B| of the active units on x and on x + N(0, σ²) noise (1 = noise flips no unit)."
    );
    println!("probe accuracy: a linear softmax trained on the layer's codes, scored on the test examples.");
}
