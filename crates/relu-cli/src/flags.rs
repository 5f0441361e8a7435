//! Library errors about a setting, printed with the setting's command-line flag.
//!
//! The libraries own the rules (`TrainConfig::check`, `PretrainConfig::check`,
//! `LrSearch::check`, …) and name the parameter in their errors; the CLI only knows which flag
//! sets which parameter. A rule therefore lives in one place, and `relu` still says which flag
//! to fix: `--epochs: invalid number of epochs 0: expected at least 1`.

use relu_experiment::ExperimentError;
use relu_nn::NnError;
use relu_pretrain::PretrainError;

/// The flag that sets each library parameter, by the name the library's errors give it.
const FLAGS: &[(&str, &str)] = &[
    // relu-nn: TrainConfig, Sgd, LrSchedule, NetworkSpec.
    ("number of epochs", "--epochs"),
    ("batch size", "--batch"),
    ("patience", "--patience"),
    ("input dropout", "--input-dropout"),
    ("learning rate", "--lr"),
    ("momentum", "--momentum"),
    ("weight decay", "--weight-decay"),
    ("learning-rate schedule", "--lr-schedule"),
    ("inverse learning-rate decay", "--lr-schedule"),
    ("learning-rate step interval", "--lr-schedule"),
    ("learning-rate step factor", "--lr-schedule"),
    ("cosine learning-rate floor", "--lr-schedule"),
    ("hidden layer size", "--hidden"),
    ("L1 penalty", "--l1"),
    ("maxout pieces", "--activation"),
    ("target sparsity", "--target-sparsity"),
    ("target-sparsity gain", "--sparsity-gain"),
    ("target-sparsity damping", "--sparsity-damping"),
    ("dead-unit policy", "--dead-units"),
    ("weight-averaging start epoch", "--average-from"),
    // relu-pretrain: PretrainConfig, Corruption.
    ("pre-training epochs", "--pretrain-epochs"),
    ("pre-training batch size", "--batch"),
    ("pre-training learning rate", "--lr"),
    ("reconstruction sampling fraction", "--sampling"),
    ("corruption probability", "--corruption"),
    ("corruption sigma", "--corruption"),
    ("corruption", "--corruption"),
    // relu-experiment: LrSearch.
    ("lr_grid", "--lr-grid"),
    ("select_epochs", "--select-epochs"),
];

/// `--flag: invalid NAME VALUE: expected EXPECTED`, or without the flag when no flag sets `name`.
fn message(name: &str, value: &str, expected: &str) -> anyhow::Error {
    let what = name.replace('_', " ");
    match FLAGS.iter().find(|(n, _)| *n == name) {
        Some((_, flag)) => anyhow::anyhow!("{flag}: invalid {what} {value}: expected {expected}"),
        None => anyhow::anyhow!("invalid {what} {value}: expected {expected}"),
    }
}

/// A relu-nn error, with the flag when it is about a setting.
pub fn nn(e: NnError) -> anyhow::Error {
    match e {
        NnError::InvalidParameter { name, value, expected } => message(name, &value, expected),
        e => e.into(),
    }
}

/// A relu-pretrain error, with the flag when it is about a setting.
pub fn pretrain(e: PretrainError) -> anyhow::Error {
    match e {
        PretrainError::InvalidParameter { name, value, expected } => message(name, &value, expected),
        e => e.into(),
    }
}

/// A relu-experiment error, with the flag when it is about a setting.
pub fn experiment(e: ExperimentError) -> anyhow::Error {
    match e {
        ExperimentError::InvalidParameter { name, value, expected } => message(name, &value, &expected),
        ExperimentError::Nn(e) => nn(e),
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_name_their_flag() {
        let e = relu_nn::TrainConfig { epochs: 0, ..Default::default() }.check().unwrap_err();
        assert_eq!(nn(e).to_string(), "--epochs: invalid number of epochs 0: expected at least 1");
        let sgd = relu_nn::Sgd { momentum: 1.0, ..Default::default() };
        assert!(nn(sgd.check().unwrap_err()).to_string().starts_with("--momentum: invalid momentum 1"));
        let p = relu_pretrain::PretrainConfig { sampling: Some(2.0), ..Default::default() };
        assert!(pretrain(p.check().unwrap_err()).to_string().starts_with("--sampling: "));
        let s = relu_experiment::search::LrSearch { grid: vec![], select_epochs: 1 };
        assert!(experiment(s.check().unwrap_err()).to_string().starts_with("--lr-grid: invalid lr grid []"));
        // Every flag in the table is one that some `relu` command has.
        fn longs(c: &clap::Command, out: &mut Vec<String>) {
            out.extend(c.get_arguments().filter_map(|a| a.get_long().map(|l| format!("--{l}"))));
            for sub in c.get_subcommands() {
                longs(sub, out);
            }
        }
        let mut all = Vec::new();
        longs(&<crate::cli::Cli as clap::CommandFactory>::command(), &mut all);
        for (_, flag) in FLAGS {
            assert!(all.iter().any(|f| f == flag), "{flag} is no flag of relu");
        }
    }

    #[test]
    fn other_errors_pass_through() {
        let e = nn(NnError::NonFinite { epoch: 3, batch: 0, layer: "loss".into(), what: "loss" });
        assert!(!e.to_string().starts_with("--"), "{e}");
        assert_eq!(message("mystery", "1", "2").to_string(), "invalid mystery 1: expected 2");
    }
}
