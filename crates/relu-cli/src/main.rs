//! `relu`: the command line of relu, a library for the deep sparse rectifier networks of Glorot,
//! Bordes & Bengio (AISTATS 2011).
//!
//! ```text
//! relu train [--data SPEC] [--hidden 1000,1000,1000] [--activation rectifier] [--l1 0.001] …
//! relu pretrain [--data SPEC] [--unlabeled SPEC] [--hidden …] [--pretrain dae[:STRATEGY]] --out DIR
//! relu eval --model DIR [--data SPEC] [--json]
//! relu inspect --model DIR [--data SPEC] [--out DIR]
//! relu predict --model DIR [FILES…]
//! relu reproduce table1|fig3|fig4|sentiment [--data SPEC] [--budget-minutes M] …
//! relu data info SPEC
//! relu data fetch mnist|cifar10|norb [--dir DIR]
//! ```
//!
//! `relu train` with no argument trains the paper's MNIST network (784-1000-1000-1000-10
//! rectifiers, L1 penalty 0.001 on the activations, SGD with learning rate 0.01 and minibatches
//! of 10) on the MNIST subset compiled into relu, and writes into `--out`
//! (default `runs/train-YYYYMMDD-HHMMSS`, UTC):
//!
//! * `model.safetensors` — the network (relu-nn's format) with the `input` and, for text,
//!   `vectorizer` metadata that `eval`, `inspect` and `predict` need (see [`model_dir`]);
//! * `config.toml` — the fully resolved configuration (`relu train --config config.toml` repeats
//!   the run);
//! * `report.json` — the summary below;
//! * `learning_curves.svg`, `sparsity.svg`, `active_units.svg` and, for images, `filters.svg`
//!   (the first layer's weights) and `filter_updates.svg` (what training changed, `W − W₀`, with
//!   the initial weights recomputed from the seed);
//! * `cv.json` with `--folds K` — per-fold results of the cross-validation;
//! * `train_state.safetensors` while a run is unfinished: saved at the end of every epoch and on
//!   an interruption (Ctrl-C, SIGTERM), removed when the run completes; `--resume DIR` continues
//!   the run and gives the same final weights as an uninterrupted run.
//!
//! Every file is written atomically; before training has finished or was interrupted only
//! `config.toml` and the end-of-epoch `train_state.safetensors` are, so an error leaves a folder
//! that `--resume` continues or none at all. Errors exit with code 2 and name
//! the flag or file at fault; an interrupted run exits with 130.
//!
//! # `report.json`
//!
//! A stable schema; fractions are in `[0, 1]`, `null` where a value does not apply. The values
//! are from one run of the main job on the development machine (`history` cut to one epoch).
//!
//! ```json
//! {
//!   "relu_version": "0.1.0",
//!   "dataset":  { "name": "mnist", "train": 18000, "valid": 2000, "test": 2000 },
//!   "model":    { "layers": [784, 1000, 1000, 1000, 10], "activation": "rectifier", "l1": 0.001,
//!                 "sign_flip": false, "output": "softmax", "parameters": 2797010 },
//!   "training": { "epochs_run": 20, "best_epoch": 14, "batch": 10, "lr": 0.01, "momentum": 0.0,
//!                 "lr_schedule": "constant", "weight_decay": 0.0, "threads": 2, "seed": 1234, "examples_per_second": 6836.1,
//!                 "wall_seconds": 25.85, "stop": "completed" },
//!   "valid":    { "error": 0.0485, "loss": 0.1733 },
//!   "test":     { "error": 0.06, "loss": 0.2101, "rmse": null },
//!   "sparsity": [0.813, 0.646, 0.585],
//!   "dead_units": [0, 0, 0],
//!   "history":  [ { "epoch": 1, "train_loss": 0.926, "penalty": 0.349, "valid_error": 0.12,
//!                   "sparsity": [0.511, 0.487, 0.456], "seconds": 1.97 } ],
//!   "pretraining": null
//! }
//! ```
//!
//! | key | meaning |
//! | --- | --- |
//! | `dataset.name` | the `--data` spec; `train`/`valid`/`test` are example counts (`train` after `--limit`) |
//! | `model.layers` | units per layer from input to output |
//! | `model.activation` | the hidden activation (`rectifier`, `softplus:3`, `maxout:2`, …) |
//! | `model.output` | `softmax`, or `ratings` for star ratings (scored by RMSE of the expected rating) |
//! | `training.epochs_run` | epochs completed (fewer than `--epochs` after early stopping) |
//! | `training.best_epoch` | the epoch with the best validation score, whose parameters were kept |
//! | `training.examples_per_second` | training throughput (training batches only; after a resume, of the resumed part) |
//! | `training.wall_seconds` | seconds of training, per-epoch validation and the final evaluation, summed over interruptions |
//! | `training.stop` | `completed` or `early-stopped` |
//! | `training.processes`, `sync_every` | MPI ranks that trained together (1 without MPI) and, with more than one, batches between synchronisations (1: gradients summed every batch) |
//! | `valid`, `test` | metrics of the kept parameters: `error` is the misclassified fraction, `loss` the mean negative log-likelihood, `rmse` only for ratings |
//! | `sparsity` | per hidden layer, the fraction of exact zeros in its outputs on the test set |
//! | `dead_units` | per hidden layer, the units never active on the test set |
//! | `history[].train_loss`, `penalty` | mean training loss and L1 penalty over the epoch's batches |
//! | `history[].valid_error` | validation error after the epoch |
//! | `history[].sparsity` | per hidden layer, exact zeros over the epoch's training batches |
//! | `history[].seconds` | the epoch's wall-clock seconds, validation included |
//! | `pretraining` | `null`, or with `--pretrain`: `method`, per-layer `reconstruction`, `corruption`, `epochs` per layer, `unlabeled` examples, per-layer `initial_error`, and `history` entries `{layer, epoch, train_loss, reconstruction_error, sparsity}` on up to 2,000 clean training examples |
// The flags' doc comments are their --help text, written for a terminal: `[grid]`,
// `[[runs]]` and `cosine[:FLOOR]` there are TOML tables and syntax, not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

mod cli;
mod cluster;
mod cmd;
mod data;
mod flags;
mod model_dir;
mod plots;
mod progress;
mod report;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cluster = match cluster::Cluster::init() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Train(args) => cmd::train::run(args, &cluster),
        Command::Pretrain(args) => cmd::pretrain::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Predict(args) => cmd::predict::run(args),
        Command::Encode(args) => cmd::encode::run(args),
        Command::Sweep(args) => cmd::sweep::run(args, &cluster),
        Command::Reproduce { command } => cmd::reproduce::run(command, &cluster),
        Command::Data { command } => cmd::data::run(command),
    };
    match result {
        Ok(code) => {
            if code != 0 && cluster.is_root() {
                // An interrupted MPI run: rank 0 has written what finished; end every rank.
                cluster.abort_on_error(i32::from(code));
            }
            ExitCode::from(code)
        }
        // The reader of our standard output went away (`relu predict … | head`): stop quietly,
        // as other Unix tools do.
        Err(e) if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            // Under MPI the other ranks may be waiting for this one: end them too.
            cluster.abort_on_error(2);
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, `outer: inner: …`, skipping a cause whose text the line
/// already ends with (library errors such as relu-data's I/O error quote their OS error in
/// their own message and also expose it as the source, which `{:#}` would print twice).
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_os_error_quoted_by_its_wrapper_is_printed_once() {
        let missing = std::env::temp_dir().join("relu-no-such-dir").join("x.gz");
        let io = relu_data::idx::read_idx(&missing).unwrap_err();
        let os_text = std::error::Error::source(&io).expect("an I/O error has its OS error as source").to_string();
        let e = anyhow::Error::new(io).context("--data mnist:dir");
        let line = super::error_line(&e);
        assert_eq!(line.matches(&os_text).count(), 1, "{line}");
        assert!(line.starts_with("--data mnist:dir: ") && line.contains("x.gz"), "{line}");
    }
}
