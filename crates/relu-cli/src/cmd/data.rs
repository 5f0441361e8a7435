//! `relu data info` and `relu data fetch`.

use anyhow::{Context, Result};
use relu_nn::Dataset;
use serde::Serialize;

use crate::cli::DataCommand;
use crate::data::{self, DataSpec, InputKind, TextOptions};

#[derive(Debug, Serialize)]
struct SplitInfo {
    examples: usize,
    /// Fraction of non-zero input values.
    density: f64,
    /// Examples per class.
    labels: Vec<usize>,
}

#[derive(Debug, Serialize)]
struct Info {
    data: String,
    kind: InputKind,
    inputs: usize,
    shape: Option<Vec<usize>>,
    classes: usize,
    train: SplitInfo,
    valid: SplitInfo,
    test: SplitInfo,
}

fn split_info(d: &Dataset, classes: usize) -> SplitInfo {
    let labels = d.targets.class_counts(classes).unwrap_or_else(|| vec![0; classes]);
    SplitInfo { examples: d.len(), density: f64::from(d.inputs.density()), labels }
}

/// Runs `relu data …`.
///
/// # Errors
/// Bad specs, unreadable data, failed downloads.
pub fn run(cmd: &DataCommand) -> Result<u8> {
    match cmd {
        DataCommand::Info { spec, vocab, bow, target, json } => {
            let parsed: DataSpec = spec.parse().map_err(|e| anyhow::anyhow!("SPEC: {e}"))?;
            // The split `relu train` makes with its default seed.
            let opts = TextOptions { vocab: *vocab, bow: *bow, target: *target, seed: relu_nn::TrainConfig::default().seed };
            let loaded = data::load(&parsed, opts, None)?;
            let classes = loaded.output.units();
            let info = Info {
                data: loaded.name.clone(),
                kind: loaded.input.kind,
                inputs: loaded.dim(),
                shape: loaded.input.shape.clone(),
                classes,
                train: split_info(&loaded.train, classes),
                valid: split_info(&loaded.valid, classes),
                test: split_info(&loaded.test, classes),
            };
            if *json {
                println!("{}", serde_json::to_string_pretty(&info)?);
                return Ok(0);
            }
            println!("{}", info.data);
            match &info.shape {
                Some(s) => println!("  inputs   {} pixels per example, shape {s:?}, in [0, 1]", info.inputs),
                None => println!("  inputs   {} bag-of-words features ({bow}), sparse", info.inputs),
            }
            println!("  classes  {}", info.classes);
            for (name, s) in [("train", &info.train), ("valid", &info.valid), ("test", &info.test)] {
                println!("  {name:<8} {:>7} examples, {:.1} % non-zero inputs, labels {:?}", s.examples, 100.0 * s.density, s.labels);
            }
            Ok(0)
        }
        DataCommand::Fetch { dataset, dir, mirror } => {
            let known: relu_data::fetch::Known =
                dataset.parse().map_err(|_| anyhow::anyhow!("DATASET: unknown dataset `{dataset}`: expected mnist, cifar10 or norb"))?;
            let fetcher = match dir {
                Some(d) => relu_data::fetch::Fetcher::new(d),
                None => relu_data::fetch::Fetcher::from_env().context("--dir not given")?,
            };
            let fetcher = if mirror.is_empty() { fetcher } else { fetcher.with_base_urls(mirror.clone()) };
            let path = fetcher.fetch(known).with_context(|| format!("fetching {dataset}"))?;
            let spec = match known {
                relu_data::fetch::Known::Mnist => "mnist",
                relu_data::fetch::Known::Cifar10 => "cifar10",
                relu_data::fetch::Known::SmallNorb => "norb",
            };
            println!("{dataset}: verified files in {}", path.display());
            println!("use it with --data {spec}:{}", path.display());
            Ok(0)
        }
    }
}
