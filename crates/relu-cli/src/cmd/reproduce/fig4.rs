//! `relu reproduce fig4`: the semi-supervised setting of the paper's Figure 4. Pre-training sees
//! every training input; supervised training sees a fraction of the labels.

use anyhow::{Result, bail};
use relu_nn::NetworkSpec;
use serde::Serialize;

use super::{Defaults, Header, Job, NetResult, PaperUnits, Runner, Splits, pct, train_job};
use std::sync::Mutex;

use relu_nn::Network;

use crate::cli::Fig4Args;
use crate::cluster::{Cluster, Swept};
use crate::data::{self, DataSpec, TextOptions};
use crate::plots;
use crate::report::PretrainingInfo;
use crate::settings::{Pretrain, Settings};

const DEFAULTS: Defaults = Defaults::paper(30, Some(10), &[0.01], false);

#[derive(Serialize)]
struct Fig4Report {
    #[serde(flatten)]
    header: Header,
    fractions: Vec<f64>,
    networks: Vec<NetResult>,
    /// One per activation that was pre-trained (shared by every fraction).
    pretraining: Vec<PretrainingInfo>,
}

/// The number of labeled examples for `fraction` of `n` (at least one).
pub(super) fn labeled(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).round() as usize).clamp(1, n)
}

pub(super) fn run(args: &Fig4Args, cluster: &Cluster) -> Result<u8> {
    let spec = DataSpec::from_flag(&args.images.data)?;
    if spec.is_text() {
        bail!("--data {}: Figure 4 is on images (mnist, mnist:DIR, cifar10:DIR, norb:DIR)", args.images.data);
    }
    if args.fractions.is_empty() || args.fractions.iter().any(|&f| !(f > 0.0 && f <= 1.0)) {
        bail!("--fractions: invalid fractions {:?}: expected comma-separated fractions in (0, 1], e.g. 0.05,0.2,0.5,1", args.fractions);
    }
    let r = Runner::new("fig4", &args.common, &DEFAULTS, cluster)?;
    let text = TextOptions { vocab: 1, bow: Default::default(), target: Default::default(), seed: r.seed };
    let loaded = data::load(&spec, text, r.limit)?;
    let n = loaded.train.len();
    r.say(&format!(
        "figure 4 on {}: {n} training inputs for pre-training, labeled fractions {:?}; {} valid, {} test",
        loaded.name,
        args.fractions,
        loaded.valid.len(),
        loaded.test.len()
    ));
    let rows = ["rectifier", "tanh"];
    let cells: Vec<(usize, bool, usize)> = (0..rows.len())
        .flat_map(|row| [false, true].into_iter().flat_map(move |pre| (0..args.fractions.len()).map(move |f| (row, pre, f))))
        .collect();
    // Each activation is pre-trained once per process, by the first of its jobs that process
    // runs, and shared by its other fractions.
    let pretrained_nets: Mutex<Vec<Option<(Network, PretrainingInfo)>>> = Mutex::new(vec![None; rows.len()]);
    let swept = r.sweep(cluster, cells.len(), |job, budget| {
        let (row, pretrained, f) = cells[job];
        let name = rows[row];
        let units = PaperUnits::named(name).expect("a paper activation");
        let base = Settings {
            data: args.images.data.clone(),
            activation: units.activation,
            l1: units.l1,
            pretrain: pretrained.then_some(Pretrain { reconstruction: units.reconstruction }),
            ..r.settings()
        };
        let spec = NetworkSpec { inputs: loaded.dim(), hidden: base.layers(), output: loaded.output };
        let (init, info) = if pretrained {
            let mut cache = pretrained_nets.lock().map_err(|_| anyhow::anyhow!("a pre-training job panicked"))?;
            if cache[row].is_none() {
                cache[row] = Some(r.pretrain(&base, &loaded.train.inputs, &spec, &format!("{name} + DAE"))?);
            }
            let (net, info) = cache[row].clone().expect("pre-trained above");
            // The report lists each activation's pre-training once, with its first fraction.
            (Some(net), (f == 0).then_some(info))
        } else {
            (None, None)
        };
        let fraction = args.fractions[f];
        let subset = loaded.train.select(&(0..labeled(n, fraction)).collect::<Vec<_>>());
        let splits = Splits { train: &subset, valid: Some(&loaded.valid), test: &loaded.test };
        let job =
            Job { name: format!("{name}{} {:.0}%", if pretrained { " + DAE" } else { "" }, 100.0 * fraction), settings: base, spec, init };
        Ok(train_job(&r, job, &splits, budget)?.map(|net| (net, info)))
    })?;
    let Some(Swept { done, missing }) = swept else { return Ok(0) };
    let (networks, infos): (Vec<NetResult>, Vec<Option<PretrainingInfo>>) = done.into_iter().unzip();
    let pretraining: Vec<PretrainingInfo> = infos.into_iter().flatten().collect();
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for net in &networks {
        let key = format!("{}{}", net.activation, if net.pretrained { " + DAE" } else { "" });
        let point = (net.train_examples as f64 / n as f64, net.score());
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, pts)) => pts.push(point),
            None => series.push((key, vec![point])),
        }
    }
    let svg = plots::curves(
        &format!("Test error against the labeled fraction ({})", spec.title()),
        "fraction of the training labels used",
        "test error",
        &series,
    )?;
    let mut table =
        format!("Figure 4 on {}: test error by labeled fraction (pre-training on all {n} training inputs)\n\n| network |", loaded.name);
    for &f in &args.fractions {
        table += &format!(" {:.0}% ({}) |", 100.0 * f, labeled(n, f));
    }
    table += &format!("\n| --- |{}\n", " ---: |".repeat(args.fractions.len()));
    for (key, pts) in &series {
        table += &format!("| {key} |");
        for (_, e) in pts {
            table += &format!(" {} |", pct(*e));
        }
        table += "\n";
    }
    let report = Fig4Report { header: r.header(&loaded.name, &missing), fractions: args.fractions.clone(), networks, pretraining };
    r.finish(&report, &table, vec![("fig4.svg", svg.into_bytes())], !missing.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn labeled_counts() {
        assert_eq!(super::labeled(50_000, 0.05), 2500);
        assert_eq!(super::labeled(50_000, 1.0), 50_000);
        assert_eq!(super::labeled(10, 0.01), 1);
    }
}
