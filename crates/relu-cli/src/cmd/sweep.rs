//! `relu sweep`: many `relu train` settings from one TOML file, each network trained and
//! evaluated as `relu train` does (its own seed, validation split, best validation epoch), in one
//! process in order or shared by MPI ranks; rank 0 writes `report.json` and `table.md`.
//!
//! The file's top-level keys are settings shared by every network (a `relu train --config`
//! file); `[grid]` maps setting names to lists of values and every combination is trained;
//! `[[runs]]` entries each override settings for one network (or, with a grid, one grid of
//! networks). Networks are numbered runs first, grid points inside each run, the grid's keys
//! varying fastest last-listed first (like nested loops in file order).

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use relu_experiment::search::{self, LrSearch, Start};
use relu_nn::NetworkSpec;
use serde::{Deserialize, Serialize};

use crate::cli::SweepArgs;
use crate::cluster::{Cluster, Swept};
use crate::cmd::reproduce::NetResult;
use crate::data;
use crate::progress::{self, Display};
use crate::settings::Settings;

/// More networks than this in one file is a mistake (a grid's product grows fast).
const MAX_NETWORKS: usize = 10_000;

/// One network of the sweep: what varies, and the full settings.
#[derive(Debug, Clone)]
struct Planned {
    /// The settings this network sets beyond the shared ones, as `key = value, …`.
    label: String,
    settings: Settings,
}

/// Expands a sweep file's text into its networks.
fn expand(text: &str, file: &Path, threads: Option<usize>) -> Result<Vec<Planned>> {
    let name = file.display();
    let mut base: toml::Table = text.parse().map_err(|e: toml::de::Error| anyhow::anyhow!("{name}: {}", e.to_string().trim_end()))?;
    let grid: Vec<(String, Vec<toml::Value>)> = match base.remove("grid") {
        None => Vec::new(),
        Some(toml::Value::Table(t)) => t
            .into_iter()
            .map(|(k, v)| match v {
                toml::Value::Array(values) if !values.is_empty() => Ok((k, values)),
                _ => bail!("{name}: [grid] {k}: expected a non-empty list of values, e.g. {k} = [a, b]"),
            })
            .collect::<Result<_>>()?,
        Some(_) => bail!("{name}: `grid` must be a table ([grid] with one list of values per setting)"),
    };
    let runs: Vec<toml::Table> = match base.remove("runs") {
        None => vec![toml::Table::new()],
        Some(toml::Value::Array(runs)) if !runs.is_empty() => runs
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                toml::Value::Table(t) => Ok(t),
                _ => bail!("{name}: runs entry {}: expected a table of settings ([[runs]])", i + 1),
            })
            .collect::<Result<_>>()?,
        Some(_) => bail!("{name}: `runs` must be a list of tables ([[runs]] entries)"),
    };
    let points = grid.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len())).unwrap_or(usize::MAX);
    let total = points.saturating_mul(runs.len());
    if total > MAX_NETWORKS {
        bail!("{name}: {total} networks ({} runs × {points} grid points); at most {MAX_NETWORKS} per sweep", runs.len());
    }
    let mut planned = Vec::with_capacity(total);
    for run in &runs {
        for p in 0..points {
            let mut table = base.clone();
            let mut varied: Vec<(String, toml::Value)> = run.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            // Point p in mixed radix, the last grid key fastest.
            let mut rest = p;
            let mut chosen = vec![None; grid.len()];
            for (slot, (_, values)) in chosen.iter_mut().zip(&grid).rev() {
                *slot = Some(values[rest % values.len()].clone());
                rest /= values.len();
            }
            varied.extend(grid.iter().zip(chosen).map(|((k, _), v)| (k.clone(), v.expect("every grid key chose a value"))));
            for (k, v) in &varied {
                table.insert(k.clone(), v.clone());
            }
            let label = if varied.is_empty() {
                "shared settings".to_owned()
            } else {
                varied.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
            };
            let mut settings = Settings::from_toml(&toml::to_string(&table)?)
                .with_context(|| format!("{name}: network {} ({label})", planned.len() + 1))?;
            settings.apply_text_recipe(|key| table.contains_key(key));
            if let Some(t) = threads {
                settings.threads = t;
            }
            if settings.folds.is_some() {
                bail!(
                    "{name}: network {} ({label}): `folds` is not supported in a sweep; run `relu train --folds` for cross-validation",
                    planned.len() + 1
                );
            }
            settings.check().with_context(|| format!("{name}: network {} ({label})", planned.len() + 1))?;
            planned.push(Planned { label, settings });
        }
    }
    Ok(planned)
}

/// One trained network of the sweep: its place, what varies, its settings and its results (the
/// fields `relu reproduce` reports for a network).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SweepNet {
    /// 1-based, in the file's order.
    network: usize,
    label: String,
    settings: Settings,
    #[serde(flatten)]
    result: NetResult,
}

#[derive(Serialize)]
struct SweepReport<'a> {
    relu_version: &'static str,
    command: String,
    sweep_file: String,
    processes: usize,
    wall_seconds: f64,
    interrupted: bool,
    /// Networks (1-based) that did not finish.
    missing: Vec<usize>,
    /// The network with the lowest validation score (error, or RMSE for ratings).
    best_by_validation: Option<usize>,
    networks: &'a [SweepNet],
}

/// Runs `relu sweep`; returns the exit code (0, or 130 when interrupted).
///
/// # Errors
/// A bad sweep file (naming the network and key), unreadable data, or a network that fails.
pub fn run(args: &SweepArgs, cluster: &Cluster) -> Result<u8> {
    let text =
        std::fs::read_to_string(&args.config).with_context(|| format!("--config {}: cannot read the sweep file", args.config.display()))?;
    let planned = expand(&text, &args.config, args.threads).with_context(|| "--config")?;
    let out = args.out.clone().unwrap_or_else(|| crate::cmd::train::timestamped_out("sweep"));
    let _lock = match cluster.is_root() {
        true => Some(super::claim_out(&out, &["report.json"], "a report", "choose another folder or delete it")?),
        false => None,
    };
    let display = if cluster.is_root() { Display::choose(args.quiet) } else { Display::Quiet };
    display.say(&format!(
        "sweep {}: {} networks{}",
        args.config.display(),
        planned.len(),
        match cluster.size() {
            1 => String::new(),
            n => format!(", shared by {n} MPI processes"),
        }
    ));
    let stop = progress::install_ctrlc();
    let started = std::time::Instant::now();
    let cache = DataCache::default();
    let swept = cluster.run_jobs(planned.len(), &stop, |i| train_one(i, &planned[i], display, &stop, &cache))?;
    let Some(Swept { done, missing }) = swept else { return Ok(0) };
    let best =
        done.iter().filter_map(|n| Some((n.network, n.result.valid_error?))).min_by(|a, b| a.1.total_cmp(&b.1)).map(|(network, _)| network);
    let report = SweepReport {
        relu_version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        sweep_file: args.config.display().to_string(),
        processes: cluster.size(),
        wall_seconds: started.elapsed().as_secs_f64(),
        interrupted: !missing.is_empty(),
        missing: missing.iter().map(|i| i + 1).collect(),
        best_by_validation: best,
        networks: &done,
    };
    let table = markdown(&args.config, &done, best, &report.missing);
    std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    let mut set = relu_nn::checkpoint::FileSet::new();
    set.add(&out.join("table.md"), table.as_bytes())?;
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    set.add(&out.join("report.json"), &json)?;
    set.commit()?;
    println!("\n{table}");
    println!("{:.1} minutes; files in {}: table.md, report.json", report.wall_seconds / 60.0, out.display());
    if report.interrupted {
        eprintln!("interrupted: the report holds the networks finished before Ctrl-C");
        return Ok(crate::cmd::train::EXIT_INTERRUPTED);
    }
    Ok(0)
}

/// The data sets loaded last, so that consecutive networks on the same data (a grid over
/// training settings) do not read and decode it again. Two entries: a network's training data,
/// and the whole set its pre-training reads.
#[derive(Debug, Default)]
struct DataCache {
    entries: Mutex<Vec<(DataKey, Arc<data::Loaded>)>>,
}

type DataKey = (data::DataSpec, data::TextOptions, Option<usize>);

impl DataCache {
    const ENTRIES: usize = 2;

    /// `data::load(spec, text, limit)`, or the copy loaded for the same arguments.
    fn load(&self, spec: &data::DataSpec, text: data::TextOptions, limit: Option<usize>) -> Result<Arc<data::Loaded>> {
        let key = (spec.clone(), text, limit);
        let mut entries = self.entries.lock().map_err(|_| anyhow::anyhow!("a network panicked while loading data"))?;
        if let Some((_, loaded)) = entries.iter().find(|(k, _)| *k == key) {
            return Ok(loaded.clone());
        }
        let loaded = Arc::new(data::load(spec, text, limit)?);
        if entries.len() == Self::ENTRIES {
            entries.remove(0);
        }
        entries.push((key, loaded.clone()));
        Ok(loaded)
    }
}

/// Trains and evaluates network `i`; `None` when interrupted.
fn train_one(
    i: usize,
    p: &Planned,
    display: Display,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    cache: &DataCache,
) -> Result<Option<SweepNet>> {
    let s = &p.settings;
    let name = format!("network {} ({})", i + 1, p.label);
    let spec = s.data_spec()?;
    let text = s.text_options();
    let loaded = cache.load(&spec, text, s.limit).with_context(|| name.clone())?;
    let net_spec = NetworkSpec { inputs: loaded.dim(), hidden: s.layers(), output: loaded.output };
    net_spec.check().with_context(|| format!("{name}: the network architecture"))?;
    let threads = crate::settings::resolve_threads(s.threads);
    let start = if let Some(cfg) = s.pretrain_config() {
        let all = cache.load(&spec, text, None).with_context(|| name.clone())?;
        let inputs = crate::cmd::train::pretraining_inputs(s, &all, text)?;
        let prefix = name.clone();
        let say = move |line: &str| display.say(&format!("{prefix}: {line}"));
        Start::From(crate::cmd::train::pretrain(s, &inputs, &net_spec, &cfg, threads, &say)?.0)
    } else if let Some(dir) = &s.init {
        let (net, _) = relu_nn::checkpoint::load_model(&dir.join(crate::model_dir::MODEL_FILE))
            .with_context(|| format!("{name}: init {}", dir.display()))?;
        if net.spec() != &net_spec {
            bail!("{name}: init {} holds a different network than the settings call for", dir.display());
        }
        Start::From(net)
    } else {
        Start::Random { spec: net_spec, seed: s.seed }
    };
    // The network's own learning rate; the sweep is the search.
    let job = search::Job { name, start, config: s.train_config(), search: LrSearch { grid: vec![s.lr], select_epochs: s.epochs } };
    let mut monitor = progress::Runs { display, stop: stop.clone(), stop_after: None, name: &job.name };
    let Some(done) =
        search::run_job(&job, &loaded.train, Some(&loaded.valid), &loaded.test, None, &mut monitor).with_context(|| job.name.clone())?
    else {
        return Ok(None);
    };
    let result = NetResult::new(job.name, s, s.pretrain.is_some() || s.init.is_some(), loaded.train.len(), done);
    display.say(&format!(
        "{}: valid {}, test {}, sparsity {:.1} %, {:.0} s",
        result.name,
        score(result.valid_error, None),
        score(result.test_error, result.test_rmse),
        100.0 * result.mean_sparsity,
        result.seconds
    ));
    Ok(Some(SweepNet { network: i + 1, label: p.label.clone(), settings: s.clone(), result }))
}

/// `1.43 %` for an error, `rmse 0.812` for ratings.
fn score(error: Option<f64>, rmse: Option<f64>) -> String {
    match (error, rmse) {
        (_, Some(r)) => format!("rmse {r:.3}"),
        (Some(e), None) => format!("{:.2} %", 100.0 * e),
        (None, None) => "-".into(),
    }
}

fn markdown(file: &Path, nets: &[SweepNet], best: Option<usize>, missing: &[usize]) -> String {
    let mut s = format!(
        "Sweep {}: {} networks\n\n| # | settings | valid | test | sparsity | kept epoch |\n| ---: | --- | ---: | ---: | ---: | ---: |\n",
        file.display(),
        nets.len() + missing.len()
    );
    for n in nets {
        let mark = if Some(n.network) == best { " **(best valid)**" } else { "" };
        let r = &n.result;
        s += &format!(
            "| {}{mark} | {} | {} | {} | {:.1}% | {} of {} |\n",
            n.network,
            n.label,
            score(r.valid_error, None),
            score(r.test_error, r.test_rmse),
            100.0 * r.mean_sparsity,
            r.best_epoch.map_or("-".into(), |e| e.to_string()),
            r.epochs_run
        );
    }
    if !missing.is_empty() {
        s += &format!("\nNot finished (interrupted): networks {missing:?}.\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Vec<Planned>> {
        expand(text, Path::new("sweep.toml"), None)
    }

    #[test]
    fn runs_and_grid_combine_in_file_order() {
        let p = plan(
            "epochs = 2\nhidden = [10]\n[grid]\nl1 = [0.0, 0.001]\nseed = [1, 2, 3]\n[[runs]]\nlr = 0.1\n[[runs]]\nlr = 0.03\nbatch = 20\n",
        )
        .unwrap();
        assert_eq!(p.len(), 12);
        let got: Vec<(f32, f32, u64, usize, usize)> =
            p.iter().map(|n| (n.settings.lr, n.settings.l1, n.settings.seed, n.settings.batch, n.settings.epochs)).collect();
        assert_eq!(got[0], (0.1, 0.0, 1, 10, 2));
        assert_eq!(got[1], (0.1, 0.0, 2, 10, 2), "the last grid key varies fastest");
        assert_eq!(got[3], (0.1, 0.001, 1, 10, 2));
        assert_eq!(got[6], (0.03, 0.0, 1, 20, 2), "then the second run");
        assert_eq!(p[4].label, "lr = 0.1, l1 = 0.001, seed = 2");
        assert!(p.iter().all(|n| n.settings.hidden == [10]));
        assert_eq!(plan("epochs = 3").unwrap().len(), 1, "no grid and no runs: one network");
    }

    #[test]
    fn bad_files_name_the_network_and_the_key() {
        for (text, needle) in [
            ("[grid]\nl1 = 0.1\n", "[grid] l1: expected a non-empty list"),
            ("[grid]\nl1 = []\n", "[grid] l1: expected a non-empty list"),
            ("grid = 3\n", "`grid` must be a table"),
            ("runs = 3\n", "`runs` must be a list of tables"),
            ("[grid]\nlr = [0.1, -1.0]\n", "network 2 (lr = -1.0)"),
            ("[[runs]]\nbogus = 1\n", "network 1 (bogus = 1)"),
            (
                "[grid]\na = [1,2,3,4,5,6,7,8,9,10]\nb = [1,2,3,4,5,6,7,8,9,10]\nc = [1,2,3,4,5,6,7,8,9,10]\nd = [1,2,3,4,5,6,7,8,9,10]\ne = [1,2]\n",
                "20000 networks",
            ),
            ("folds = 5\ndata = \"mnist\"\n", "`folds` is not supported in a sweep"),
            ("epochs = \n", "sweep.toml"),
        ] {
            let e = format!("{:#}", plan(text).unwrap_err());
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
