//! `relu eval`: a trained model on a dataset's test split.

use anyhow::Result;
use serde::Serialize;

use crate::cli::EvalArgs;
use crate::cmd::train::check_fits;
use crate::data::{self, DataSpec};
use crate::model_dir;
use crate::settings::resolve_threads;

#[derive(Debug, Serialize)]
struct EvalJson<'a> {
    model: String,
    data: &'a str,
    #[serde(flatten)]
    evaluation: relu_nn::Evaluation,
    /// Test examples per second of the forward pass (with the loss and sparsity statistics).
    examples_per_second: f64,
    /// Kernel threads used.
    threads: usize,
}

/// Runs `relu eval`.
///
/// # Errors
/// Unreadable model or data, or data that does not fit the model.
pub fn run(args: &EvalArgs) -> Result<u8> {
    let model = model_dir::load(&args.model)?;
    let spec_text = args.data.clone().unwrap_or_else(|| model.input.data.clone());
    let spec = DataSpec::from_flag(&spec_text)?;
    let test = data::test_set_for_model(&spec, &model.input, model.vectorizer.as_ref())?;
    check_fits(&model.net, &test, &spec_text, &model.path)?;
    let threads = resolve_threads(args.threads);
    let start = std::time::Instant::now();
    let e = relu_experiment::evaluate(&model.net, &test, threads)?;
    let examples_per_second = e.examples as f64 / start.elapsed().as_secs_f64().max(1e-9);
    if args.json {
        let j = EvalJson { model: model.path.display().to_string(), data: &spec_text, evaluation: e, examples_per_second, threads };
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(0);
    }
    println!("model {} on {} (test split, {} examples)", model.path.display(), spec_text, e.examples);
    if let Some(err) = e.error {
        println!("error      {:.2} %", 100.0 * err);
    }
    if let Some(r) = e.rmse {
        println!("rmse       {r:.4}");
    }
    println!("loss       {:.4}", e.loss);
    println!("L1 penalty {:.4}", e.penalty);
    for (i, (s, d)) in e.sparsity.iter().zip(&e.dead_units).enumerate() {
        println!("layer {}    sparsity {:.1} %, {} dead of {} units", i + 1, 100.0 * s, d, model.net.spec().hidden[i].units);
    }
    println!("speed      {examples_per_second:.0} examples/s ({threads} threads)");
    Ok(0)
}
