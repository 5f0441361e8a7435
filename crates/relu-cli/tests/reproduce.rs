//! `relu reproduce`: every experiment end to end at toy scale (embedded MNIST subset, generated
//! reviews), the files it writes, its determinism, the budget, and its flag errors.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

fn networks(r: &Value) -> &Vec<Value> {
    r["networks"].as_array().unwrap()
}

const QUICK: [&str; 6] = ["--limit", "200", "--epochs", "1", "--threads", "2"];

#[test]
fn table1_runs_both_columns_picks_the_best_trial_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        relu()
            .args(["reproduce", "table1", "--rows", "rectifier", "--pretrain-epochs", "1", "--lr-grid", "0.1,0.01", "--quiet"])
            .args(QUICK)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let a = run("a");
    let r = report(&a);
    assert_eq!(r["experiment"], "table1");
    assert!(r["command"].as_str().unwrap().contains("table1"));
    let nets = networks(&r);
    assert_eq!(nets.len(), 2);
    assert_eq!((nets[0]["pretrained"].as_bool(), nets[1]["pretrained"].as_bool()), (Some(false), Some(true)));
    for n in nets {
        let trials = n["lr_trials"].as_array().unwrap();
        assert_eq!(trials.len(), 2);
        let best = trials
            .iter()
            .filter(|t| t["valid"].is_number())
            .min_by(|x, y| x["valid"].as_f64().unwrap().total_cmp(&y["valid"].as_f64().unwrap()))
            .unwrap();
        assert_eq!(n["lr"], best["lr"], "{n}");
        let e = n["test_error"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&e));
        assert_eq!(n["sparsity"].as_array().unwrap().len(), 3);
        assert!((n["l1"].as_f64().unwrap() - 3e-4).abs() < 1e-9, "the rectifier row's default L1: {}", n["l1"]);
    }
    assert_eq!(r["protocol"]["lr_schedule"], "cosine", "table 1's default schedule");
    assert!(r["protocol"]["average_from"].is_null(), "averaging from epoch 5 does not apply to a 1-epoch run");
    assert!(
        r["pretraining"][1]["reconstruction"].as_array().unwrap().iter().all(|x| x == "softplus"),
        "rectifier layers pre-train with the paper's image reconstruction: {}",
        r["pretraining"][1]["reconstruction"]
    );
    assert!(r["pretraining"][1]["history"].as_array().unwrap().len() == 3, "one epoch for each of 3 layers");
    let table = std::fs::read_to_string(a.join("table.md")).unwrap();
    assert!(table.contains("| rectifier |") && table.contains("1.43%") && table.contains("1.20%"), "{table}");

    // Same seed, same numbers.
    let b = report(&run("b"));
    for (x, y) in nets.iter().zip(networks(&b)) {
        assert_eq!(x["test_error"], y["test_error"]);
        assert_eq!(x["sparsity"], y["sparsity"]);
    }
}

#[test]
fn a_budget_cuts_every_network_to_the_epoch_that_exhausts_it() {
    let dir = tempfile::tempdir().unwrap();
    relu()
        .args(["reproduce", "table1", "--rows", "tanh", "--pretraining", "none", "--lr-grid", "0.05", "--quiet"])
        .args(["--limit", "200", "--epochs", "4", "--budget-minutes", "0.00001", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let r = report(dir.path());
    let n = &networks(&r)[0];
    assert_eq!(n["stop"], "time-limit");
    assert_eq!(n["epochs_run"], 1);
    assert_eq!(n["lr_trials"].as_array().unwrap().len(), 0, "a one-value grid needs no trial");
    assert_eq!(n["sparsity"][0], 0.0, "tanh units are never exactly zero");
}

#[test]
fn fig3_keeps_networks_whose_penalty_kills_a_layer() {
    // relu train stops such a run (a dead layer); the figure maps the collapse, so it keeps it.
    let dir = tempfile::tempdir().unwrap();
    relu()
        .args(["reproduce", "fig3", "--nets", "2", "--l1-min", "1", "--l1-max", "30", "--lr-grid", "0.01", "--quiet"])
        .args(["--limit", "200", "--epochs", "4", "--threads", "2", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let nets = networks(&report(dir.path())).clone();
    assert_eq!(nets.len(), 2);
    assert_eq!(nets[1]["dead_units"][2], 1000, "L1 30 silences the third layer: {}", nets[1]);
}

#[test]
fn fig3_by_sparsity_adapts_each_networks_penalty_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    relu()
        .args(["reproduce", "fig3", "--by-sparsity", "0.5,0.95", "--l1-min", "0.0001", "--lr-grid", "0.1", "--quiet"])
        .args(["--limit", "400", "--epochs", "2", "--threads", "2", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let r = report(dir.path());
    let nets = networks(&r);
    assert_eq!(nets.len(), 2);
    let target: Vec<f64> = nets.iter().map(|n| n["target_sparsity"].as_f64().unwrap()).collect();
    assert!((target[0] - 0.5).abs() < 1e-6 && (target[1] - 0.95).abs() < 1e-6, "{target:?}");
    let (l1, sparsity): (Vec<f64>, Vec<f64>) =
        nets.iter().map(|n| (n["l1"].as_f64().unwrap(), n["mean_sparsity"].as_f64().unwrap())).unzip();
    assert!(l1[1] > l1[0] && l1[1] > 1e-4, "the 95% network's λ was raised above the start: {l1:?}");
    assert!(sparsity[1] > sparsity[0], "{sparsity:?}");
    let table = std::fs::read_to_string(dir.path().join("table.md")).unwrap();
    assert!(table.contains("| target | final L1 |") && table.contains("| 95.00% |"), "{table}");
    relu()
        .args(["reproduce", "fig3", "--by-sparsity", "1.2"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--by-sparsity: invalid target sparsity 1.2"));
}

#[test]
fn fig3_trains_one_network_per_penalty_and_draws_the_fit() {
    let dir = tempfile::tempdir().unwrap();
    relu()
        .args(["reproduce", "fig3", "--nets", "4", "--l1-min", "0.0001", "--l1-max", "0.001", "--lr-grid", "0.1", "--quiet"])
        .args(["--limit", "400", "--epochs", "2", "--threads", "2", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let r = report(dir.path());
    let nets = networks(&r);
    let l1: Vec<f64> = nets.iter().map(|n| n["l1"].as_f64().unwrap()).collect();
    assert_eq!(l1.len(), 4);
    assert!(l1[0] == 0.0 && (l1[1] - 1e-4).abs() < 1e-9 && (l1[3] - 1e-3).abs() < 1e-9, "{l1:?}");
    assert!(l1.windows(2).all(|w| w[0] < w[1]));
    // Networks that did not learn (validation error above 50%) stay out of the fit.
    let learned = nets.iter().filter(|n| n["valid_error"].as_f64().unwrap() <= 0.5).count();
    assert!(learned >= 3, "these settings learn: {nets:?}");
    assert_eq!(r["quadratic_fit"].as_array().unwrap().len(), 3);
    let table = std::fs::read_to_string(dir.path().join("table.md")).unwrap();
    assert_eq!(table.matches("| yes |").count(), learned, "{table}");
    let svg = std::fs::read_to_string(dir.path().join("fig3.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("quadratic fit"));
    // The legend sits right of every data point, and the x tick labels (however narrow the
    // sparsity range of a short run) are not all the same.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let num = |n: roxmltree::Node<'_, '_>, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    let texts: Vec<(f64, String, Option<&str>)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| Some((num(n, "x"), n.text()?.trim().to_owned(), n.attribute("text-anchor"))))
        .collect();
    let legend_x = texts.iter().find(|t| t.1 == "quadratic fit").unwrap().0;
    let dots: Vec<f64> = doc.descendants().filter(|n| n.has_tag_name("circle")).map(|c| num(c, "cx")).collect();
    // The data's dots, not the legend's own marker (drawn just left of its label).
    let rightmost = dots.iter().copied().filter(|&x| x < legend_x - 40.0).fold(0.0, f64::max);
    assert!(dots.iter().filter(|&&x| x >= legend_x - 40.0).count() <= 1, "a data point under the legend: {dots:?}");
    assert!(rightmost > 0.0, "{dots:?}");
    // x tick labels are centred under their tick (y tick labels are right-aligned).
    let x_ticks: std::collections::BTreeSet<&str> =
        texts.iter().filter(|t| t.1.ends_with('%') && t.2 == Some("middle")).map(|t| t.1.as_str()).collect();
    assert!(x_ticks.len() >= 3, "x tick labels {x_ticks:?}");
}

#[test]
fn fig4_pretrains_once_per_activation_and_uses_label_fractions() {
    let dir = tempfile::tempdir().unwrap();
    relu()
        .args(["reproduce", "fig4", "--fractions", "0.25,1", "--pretrain-epochs", "1", "--quiet"])
        .args(QUICK)
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success();
    let r = report(dir.path());
    let nets = networks(&r);
    assert_eq!(nets.len(), 8);
    let sizes: Vec<u64> = nets.iter().map(|n| n["train_examples"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [50, 200, 50, 200, 50, 200, 50, 200]);
    assert_eq!(r["pretraining"].as_array().unwrap().len(), 2);
    assert_eq!(r["pretraining"][0]["unlabeled"], 200);
    let table = std::fs::read_to_string(dir.path().join("table.md")).unwrap();
    assert!(table.contains("| tanh + DAE |"), "{table}");
    assert!(std::fs::read_to_string(dir.path().join("fig4.svg")).unwrap().starts_with("<svg"));
}

#[test]
fn sentiment_cross_validates_every_model_and_learns_separable_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 240);
    let out = dir.path().join("out");
    relu()
        .args(["reproduce", "sentiment", "--folds", "3", "--units", "16", "--models", "linear,rect1+dae,tanh3", "--quiet"])
        .args(["--epochs", "8", "--pretrain-epochs", "1", "--lr-grid", "0.1", "--threads", "2", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = report(&out);
    assert_eq!(r["metric"], "accuracy");
    assert_eq!(networks(&r).len(), 9);
    let models = r["models"].as_array().unwrap();
    assert_eq!(models.iter().map(|m| m["model"].as_str().unwrap()).collect::<Vec<_>>(), ["linear", "rect1+dae", "tanh3"]);
    for m in models {
        assert!(m["mean"].as_f64().unwrap() > 0.9, "the generated reviews are separable: {m}");
    }
    let own = &models[0]["relative_improvement_over_linear"];
    assert!(own == 0.0 || own.is_null(), "the linear row against itself: {own}");
    assert!(networks(&r).iter().filter(|n| n["model"] == "rect1+dae").all(|n| n["pretraining"]["epochs"] == 1));
}

#[test]
fn sentiment_on_three_classes_reports_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_three_class_tsv(dir.path(), 240, ["0", "1", "2"]);
    let out = dir.path().join("out");
    let a = relu()
        .args(["reproduce", "sentiment", "--folds", "3", "--units", "16", "--models", "linear,rect1"])
        .args(["--epochs", "6", "--lr-grid", "0.1", "--threads", "2", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("3 classes"));
    let r = report(&out);
    assert_eq!(r["metric"], "accuracy");
    for m in r["models"].as_array().unwrap() {
        assert!(m["mean"].as_f64().unwrap() > 0.85, "each class has its own words: {m}");
    }
}

#[test]
fn sentiment_pretrains_on_extra_unlabeled_text() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 120);
    // 40 lines that share the reviews' words, and 3 with none of them (dropped).
    let extra = dir.path().join("extra.txt");
    let mut text: String = (0..40).map(|i| format!("the film plot {}\n", if i % 2 == 0 { "great" } else { "boring" })).collect();
    text += "zzz qqq\nxxx\nwww vvv\n";
    std::fs::write(&extra, text).unwrap();
    // `relu reproduce sentiment ARGS --unlabeled FILE` on the reviews, into `dir/OUT`.
    let run = |args: &[&str], unlabeled: &std::path::Path, out: &str| {
        relu()
            .args(["reproduce", "sentiment"])
            .args(args)
            .arg("--unlabeled")
            .arg(unlabeled)
            .arg("--data")
            .arg(format!("reviews:{}", tsv.display()))
            .arg("--out")
            .arg(dir.path().join(out))
            .assert()
    };
    let quick = ["--folds", "2", "--units", "8", "--models", "rect1+dae", "--quiet"];
    run(&[&quick[..], &["--epochs", "2", "--pretrain-epochs", "1", "--lr-grid", "0.1", "--threads", "2"]].concat(), &extra, "out")
        .success();
    let r = report(&dir.path().join("out"));
    for n in networks(&r) {
        assert_eq!(n["pretraining"]["unlabeled"], 60 + 40, "the fold's 60 training reviews and 40 extra lines: {n}");
    }
    // Without a pre-trained model the flag would be ignored: an error instead.
    assert_usage_error(run(&["--models", "linear"], &extra, "x"), &["--unlabeled", "+dae"]);
    assert_usage_error(run(&["--models", "rect1+dae"], &dir.path().join("absent.txt"), "y"), &["--unlabeled", "absent.txt"]);
}

#[test]
fn sentiment_on_star_ratings_reports_rmse() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_ratings_tsv(dir.path(), 200);
    let out = dir.path().join("out");
    relu()
        .args(["reproduce", "sentiment", "--target", "rating", "--folds", "2", "--units", "8", "--models", "linear,rect1", "--quiet"])
        .args(["--epochs", "3", "--lr-grid", "0.05", "--threads", "2", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = report(&out);
    assert_eq!(r["metric"], "rmse");
    for n in networks(&r) {
        let rmse = n["test_rmse"].as_f64().unwrap();
        assert!(rmse > 0.0 && rmse < 4.0, "ratings 1-5: {n}");
    }
    let table = std::fs::read_to_string(out.join("table.md")).unwrap();
    assert!(table.contains("RMSE"), "{table}");
}

#[test]
fn reproduce_flags_are_checked_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let cases: [(&[&str], &str); 9] = [
        (&["table1", "--rows", "relu"], "--rows"),
        (&["table1", "--data", "reviews:r.tsv"], "--data"),
        (&["table1", "--lr-grid", "0.1,-1"], "--lr-grid"),
        (&["table1", "--budget-minutes", "0"], "--budget-minutes"),
        (&["fig3", "--nets", "1"], "--nets"),
        (&["fig4", "--fractions", "0,1"], "--fractions"),
        (&["sentiment", "--data", "mnist"], "--data"),
        (&["sentiment", "--data", "reviews:r.tsv", "--models", "linear+dae"], "--models"),
        // The same layer-size limit as `relu train --hidden` (relu_nn::MAX_UNITS).
        (
            &["sentiment", "--data", "reviews:r.tsv", "--units", "16777217"],
            "--units: invalid layer size 16777217: expected 1 to 16,777,216",
        ),
    ];
    for (args, flag) in cases {
        let a = relu().arg("reproduce").args(args).arg("--out").arg(&out).assert().code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    assert!(!out.exists(), "nothing is written for bad flags");
}

/// Table 1 averages the weights from epoch 5 when its networks train that long; `--average-from`
/// sets another start or `off`.
#[test]
fn table1_averages_weights_from_epoch_5_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        relu()
            .args(["reproduce", "table1", "--rows", "rectifier", "--pretraining", "none", "--lr-grid", "0.1", "--quiet"])
            .args(["--limit", "200", "--epochs", "5", "--threads", "2", "--out"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        report(&out)
    };
    assert_eq!(run("default", &[])["protocol"]["average_from"], 5);
    assert_eq!(run("three", &["--average-from", "3"])["protocol"]["average_from"], 3);
    assert!(run("off", &["--average-from", "off"])["protocol"]["average_from"].is_null());
    relu().args(["reproduce", "table1", "--average-from", "x"]).assert().failure().stderr(predicates::str::contains("--average-from"));
}
