//! `relu train`: outputs, the report.json schema, plots, config files, resumption, every data
//! kind.

mod common;

use common::*;
use serde_json::Value;

fn assert_number(v: &Value, what: &str) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{what} should be a number, is {v}"))
}

fn assert_fraction(v: &Value, what: &str) {
    let x = assert_number(v, what);
    assert!((0.0..=1.0).contains(&x), "{what} = {x} is not a fraction");
}

#[test]
fn train_writes_every_output_and_report_follows_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let a = quick_train(&out, &[]).success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    // Not a terminal: plain per-epoch lines, then the summary.
    assert!(stdout.contains("epoch 1/1"), "{stdout}");
    for needle in ["test: error", "sparsity per hidden layer", "dead units per hidden layer", "examples/s", "files in"] {
        assert!(stdout.contains(needle), "summary lacks `{needle}`: {stdout}");
    }
    for f in [
        "model.safetensors",
        "config.toml",
        "report.json",
        "learning_curves.svg",
        "sparsity.svg",
        "active_units.svg",
        "filters.svg",
        "filter_updates.svg",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    assert!(!out.join("train_state.safetensors").exists());
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");

    let r = json(&out.join("report.json"));
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected =
        ["relu_version", "dataset", "model", "training", "valid", "test", "sparsity", "dead_units", "history", "pretraining"];
    expected.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, expected);
    assert_eq!(r["relu_version"], env!("CARGO_PKG_VERSION"));
    assert!(r["pretraining"].is_null(), "no --pretrain, no pre-training section");
    assert_eq!(r["dataset"]["name"], "mnist");
    assert_eq!(r["dataset"]["train"], 500);
    assert_eq!(r["dataset"]["valid"], 2000);
    assert_eq!(r["dataset"]["test"], 2000);
    assert_eq!(r["model"]["layers"], serde_json::json!([784, 32, 10]));
    assert_eq!(r["model"]["activation"], "rectifier");
    assert!((assert_number(&r["model"]["l1"], "l1") - 0.001).abs() < 1e-9);
    let t = &r["training"];
    for k in ["epochs_run", "best_epoch", "batch", "lr", "threads", "seed", "examples_per_second", "wall_seconds"] {
        assert_number(&t[k], k);
    }
    assert_eq!(t["epochs_run"], 1);
    assert_eq!(t["batch"], 10);
    assert_eq!(t["seed"], 1234);
    assert_eq!(t["threads"], 2);
    assert!(assert_number(&t["examples_per_second"], "examples_per_second") > 0.0);
    assert_fraction(&r["valid"]["error"], "valid.error");
    assert_number(&r["valid"]["loss"], "valid.loss");
    assert_fraction(&r["test"]["error"], "test.error");
    assert_number(&r["test"]["loss"], "test.loss");
    assert!(r["test"]["rmse"].is_null(), "rmse is null unless ratings");
    // Fifty SGD steps already beat chance (90 % error).
    assert!(r["test"]["error"].as_f64().unwrap() < 0.8, "{}", r["test"]);
    assert_eq!(r["sparsity"].as_array().unwrap().len(), 1);
    assert_fraction(&r["sparsity"][0], "sparsity[0]");
    assert!(r["dead_units"][0].as_u64().unwrap() <= 32);
    let h = r["history"].as_array().unwrap();
    assert_eq!(h.len(), 1);
    for k in ["epoch", "train_loss", "penalty", "valid_error", "seconds"] {
        assert_number(&h[0][k], k);
    }
    assert_eq!(h[0]["dead_units"].as_array().map(Vec::len), Some(1), "dead units per layer each epoch");
    assert_eq!(h[0]["revived"], serde_json::json!([]), "nothing revived by default");
    assert_eq!(t["dead_units"], "report");
    assert_fraction(&h[0]["sparsity"][0], "history sparsity");

    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for line in [
        "data = \"mnist\"",
        "hidden = [32]",
        "activation = \"rectifier\"",
        "l1 = 0.001",
        "lr = 0.01",
        "batch = 10",
        "epochs = 1",
        "seed = 1234",
        "limit = 500",
    ] {
        assert!(config.contains(line), "config.toml lacks `{line}`:\n{config}");
    }
    // The model file carries what eval/predict need.
    let (net, meta) = relu_nn::checkpoint::load_model(&out.join("model.safetensors")).unwrap();
    assert_eq!(net.spec().inputs, 784);
    let input: Value = serde_json::from_str(&meta["input"]).unwrap();
    assert_eq!(input["kind"], "image");
    assert_eq!(input["shape"], serde_json::json!([28, 28]));
}

#[test]
fn plots_are_well_formed_svg_with_their_elements() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    quick_train(&out, &["--epochs", "2", "--limit", "200", "--quiet"]).success().stdout("");
    let lc = out.join("learning_curves.svg");
    assert!(svg_elements(&lc, "polyline") + svg_elements(&lc, "path") >= 4, "learning curves need lines");
    assert!(svg_elements(&lc, "circle") >= 4, "a dot per epoch and series");
    let text = svg_text(&lc);
    for label in ["epoch", "train loss", "valid loss", "valid error"] {
        assert!(text.contains(label), "learning_curves.svg lacks the label `{label}`: {text}");
    }
    let sp = out.join("sparsity.svg");
    assert!(svg_elements(&sp, "polyline") + svg_elements(&sp, "path") >= 1);
    assert!(svg_text(&sp).contains("layer 1"));
    let au = out.join("active_units.svg");
    assert!(svg_elements(&au, "rect") >= 3, "histogram bars");
    assert!(svg_text(&au).contains("active units per example"));
    let f = out.join("filters.svg");
    // 32 filters of 28×28 pixels, drawn as paths of pixel runs grouped by grey level.
    assert!(svg_elements(&f, "path") >= 8);
    let svg = std::fs::read_to_string(&f).unwrap();
    assert!(svg.matches('M').count() >= 32 * 28, "every filter row has at least one run");
    assert!(svg_elements(&out.join("filter_updates.svg"), "path") >= 8);

    // Read at a glance: titles name the dataset (never a path) and differ between plots, the
    // kept epoch is marked, the filters carry their grey scale, and legends sit in a band right
    // of the data (no polyline crosses into it, every legend label is in it).
    let kept = json(&out.join("report.json"))["training"]["best_epoch"].as_u64().unwrap();
    assert!(svg_text(&lc).contains(&format!("kept: epoch {kept}")), "{}", svg_text(&lc));
    let titles: Vec<String> = ["learning_curves.svg", "sparsity.svg", "filters.svg", "filter_updates.svg"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(out.join(f)).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            doc.descendants().find(|n| n.has_tag_name("text")).and_then(|n| n.text()).unwrap().trim().to_owned()
        })
        .collect();
    for t in &titles {
        assert!(t.contains("MNIST, embedded subset") && !t.contains('/'), "{titles:?}");
    }
    assert!((1..titles.len()).all(|i| !titles[..i].contains(&titles[i])), "titles repeat: {titles:?}");
    let filters = svg_text(&out.join("filters.svg"));
    assert!(filters.contains("−max") && filters.contains("+max"), "{filters}");
    for (file, labels) in [("learning_curves.svg", &["train loss", "valid error"][..]), ("sparsity.svg", &["layer 1"][..])] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let width: f64 = doc.root_element().attribute("width").unwrap().parse().unwrap();
        let band = width - 180.0;
        for line in doc.descendants().filter(|n| n.has_tag_name("polyline")) {
            let xs: Vec<f64> =
                line.attribute("points").unwrap().split_whitespace().map(|p| p.split(',').next().unwrap().parse().unwrap()).collect();
            assert!(xs.iter().all(|&x| x < band) || xs.iter().all(|&x| x >= band), "{file}: a line crosses into the legend band: {xs:?}");
        }
        for label in labels {
            let t = doc.descendants().find(|n| n.has_tag_name("text") && n.text().is_some_and(|t| t.trim() == *label)).unwrap();
            let x: f64 = t.attribute("x").unwrap().parse().unwrap();
            assert!(x >= band, "{file}: legend `{label}` at x {x}, inside the chart (band from {band})");
        }
    }
}

/// Runs that train the same tiny network, one straight through and one interrupted then resumed,
/// must end with bit-identical parameters.
fn resume_matches(extra: &[&str], stop_after: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (full, parted) = (dir.path().join("full"), dir.path().join("parted"));
    let args = ["train", "--hidden", "16,8", "--epochs", "3", "--limit", "300", "--threads", "2", "--quiet", "--out"];
    relu().args(args).arg(&full).args(extra).assert().success();
    let a = relu().args(args).arg(&parted).args(extra).args(["--stop-after-batches", stop_after]).assert();
    assert_eq!(a.get_output().status.code(), Some(130), "an interrupted run exits with 130");
    assert!(parted.join("train_state.safetensors").is_file());
    assert!(parted.join("config.toml").is_file());
    assert!(!parted.join("report.json").exists(), "no report for an unfinished run");
    assert!(!parted.join("model.safetensors").exists());
    // Resuming refuses flags that would change the run.
    assert_usage_error(relu().args(["train", "--lr", "0.5", "--resume"]).arg(&parted).assert(), &["--lr", "--resume"]);
    relu().args(["train", "--quiet", "--resume"]).arg(&parted).assert().success();
    assert!(!parted.join("train_state.safetensors").exists(), "the stale state is removed after completion");
    let (a, _) = relu_nn::checkpoint::load_model(&full.join("model.safetensors")).unwrap();
    let (b, _) = relu_nn::checkpoint::load_model(&parted.join("model.safetensors")).unwrap();
    assert_eq!(a, b, "resumed weights differ from the uninterrupted run");
    let (ra, rb) = (json(&full.join("report.json")), json(&parted.join("report.json")));
    assert_eq!(ra["history"].as_array().unwrap().len(), 3);
    for k in ["train_loss", "penalty", "valid_error", "sparsity"] {
        for e in 0..3 {
            assert_eq!(ra["history"][e][k], rb["history"][e][k], "history[{e}].{k}");
        }
    }
    assert_eq!(ra["test"], rb["test"]);
}

/// A run killed without warning (here: exit 137 in the middle of epoch 3, saving nothing) resumes
/// from the checkpoint written at the end of epoch 2 and ends with the uninterrupted weights.
#[test]
fn a_killed_run_resumes_from_its_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    let args = ["train", "--hidden", "16,8", "--epochs", "4", "--limit", "300", "--momentum", "0.5", "--threads", "2", "--quiet", "--out"];
    relu().args(args).arg(&full).assert().success();
    // 30 batches per epoch: batch 75 is in the middle of epoch 3.
    let a = relu().args(args).arg(&killed).args(["--kill-after-batches", "75"]).assert();
    assert_eq!(a.get_output().status.code(), Some(137));
    assert!(killed.join("train_state.safetensors").is_file(), "the end-of-epoch checkpoint survives the kill");
    assert!(!killed.join("report.json").exists());
    // An edited config.toml (another learning rate; emptied) is refused, and nothing is touched.
    let config = std::fs::read_to_string(killed.join("config.toml")).unwrap();
    let state = std::fs::read(killed.join("train_state.safetensors")).unwrap();
    for (edited, needle) in [(config.replace("lr = 0.01", "lr = 0.02"), "was config.toml edited"), (String::new(), "config.toml")] {
        assert_ne!(edited, config);
        std::fs::write(killed.join("config.toml"), &edited).unwrap();
        let a = relu().args(["train", "--resume"]).arg(&killed).assert().failure();
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(err.contains("--resume") && err.contains(needle), "{err}");
        assert_eq!(std::fs::read(killed.join("train_state.safetensors")).unwrap(), state);
    }
    std::fs::write(killed.join("config.toml"), &config).unwrap();
    // A temporary file of a process killed mid-write is removed by the next run in the folder;
    // one whose process is alive (this test's) is left alone.
    let stale = killed.join(".model.safetensors.tmp999999999");
    let live = killed.join(format!(".report.json.tmp{}", std::process::id()));
    std::fs::write(&stale, b"half a file").unwrap();
    std::fs::write(&live, b"being written").unwrap();
    let a = relu().args(["train", "--resume"]).arg(&killed).assert().success();
    assert!(!stale.exists(), "the orphaned temporary file survived");
    assert!(live.exists(), "a live process's temporary file was removed");
    std::fs::remove_file(&live).unwrap();
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("resuming after 2 complete epochs"));
    assert!(!killed.join("train_state.safetensors").exists(), "the stale state is removed after completion");
    let (a, _) = relu_nn::checkpoint::load_model(&full.join("model.safetensors")).unwrap();
    let (b, _) = relu_nn::checkpoint::load_model(&killed.join("model.safetensors")).unwrap();
    assert_eq!(a, b, "resumed weights differ from the uninterrupted run");
    let bytes = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(bytes(&full) == bytes(&killed), "the resumed run's model.safetensors differs in bytes from the uninterrupted run's");
    // The history's numbers survive the state's JSON exactly (timings aside).
    let history = |d: &std::path::Path| -> Vec<Value> {
        json(&d.join("report.json"))["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| serde_json::json!([h["train_loss"], h["penalty"], h["sparsity"], h["valid_error"]]))
            .collect()
    };
    assert_eq!(history(&full), history(&killed));
    assert!(!full.join("train_state.safetensors").exists(), "a completed run leaves no state behind");
}

#[test]
fn resume_mid_epoch_gives_the_uninterrupted_weights() {
    // 300 examples / batch 10 = 30 batches per epoch: batch 45 is in the middle of epoch 2.
    resume_matches(&[], "45");
}

#[test]
fn resume_with_momentum_at_an_epoch_boundary_gives_the_uninterrupted_weights() {
    // Momentum buffers must be saved too; batch 30 ends epoch 1, so the stop happens after its
    // validation.
    resume_matches(&["--momentum", "0.5", "--patience", "5"], "30");
}

#[test]
fn config_file_sets_values_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("exp.toml");
    std::fs::write(&cfg, "hidden = [24]\nlr = 0.05\nepochs = 1\nlimit = 200\nactivation = \"softplus:2\"\n").unwrap();
    let out = dir.path().join("run");
    relu().args(["train", "--quiet", "--threads", "2", "--lr", "0.02", "--config"]).arg(&cfg).arg("--out").arg(&out).assert().success();
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for line in ["hidden = [24]", "lr = 0.02", "activation = \"softplus:2\"", "limit = 200"] {
        assert!(config.contains(line), "config.toml lacks `{line}`:\n{config}");
    }
    let r = json(&out.join("report.json"));
    assert_eq!(r["model"]["activation"], "softplus:2");
    assert!((r["training"]["lr"].as_f64().unwrap() - 0.02).abs() < 1e-7);
    // The written config.toml is a valid --config file that repeats the run.
    let again = dir.path().join("again");
    relu().args(["train", "--quiet", "--config"]).arg(out.join("config.toml")).arg("--out").arg(&again).assert().success();
    let (a, _) = relu_nn::checkpoint::load_model(&out.join("model.safetensors")).unwrap();
    let (b, _) = relu_nn::checkpoint::load_model(&again.join("model.safetensors")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn maxout_and_sign_flip_networks_train() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("maxout");
    quick_train(&out, &["--activation", "maxout:2", "--limit", "200", "--quiet"]).success();
    let r = json(&out.join("report.json"));
    assert_eq!(r["model"]["activation"], "maxout:2");
    assert!(out.join("filters.svg").is_file());
    let out = dir.path().join("flip");
    quick_train(&out, &["--sign-flip", "--limit", "200", "--quiet"]).success();
    assert_eq!(json(&out.join("report.json"))["model"]["sign_flip"], true);
}

#[test]
fn idx_folder_trains_with_its_own_split() {
    let dir = tempfile::tempdir().unwrap();
    let idx = write_idx_dir(dir.path(), 120, 30, 8);
    let out = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "16", "--epochs", "3", "--lr", "0.1", "--quiet", "--data"])
        .arg(format!("mnist:{}", idx.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = json(&out.join("report.json"));
    // Fewer than 20,000 training images: the last sixth is the validation set.
    assert_eq!(r["dataset"]["train"], 100);
    assert_eq!(r["dataset"]["valid"], 20);
    assert_eq!(r["dataset"]["test"], 30);
    assert_eq!(r["model"]["layers"], serde_json::json!([64, 16, 3]));
    assert!(svg_elements(&out.join("filters.svg"), "path") >= 2);
}

#[test]
fn reviews_train_with_sparse_bag_of_words() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 300);
    let out = dir.path().join("run");
    // The data path under test, with the plain recipe (the text recipe's input dropout is for
    // real vocabularies, not 12 terms).
    let a = relu()
        .args(["train", "--hidden", "16", "--epochs", "4", "--lr", "0.1", "--lr-schedule", "constant", "--input-dropout", "0"])
        .args(["--vocab", "12", "--bow", "tfidf", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("sparse bag of words"));
    let r = json(&out.join("report.json"));
    // 20 % stratified test split, then 10 % of the rest for validation.
    assert_eq!(r["dataset"]["test"], 60);
    assert_eq!(r["dataset"]["valid"], 24);
    assert_eq!(r["dataset"]["train"], 216);
    assert_eq!(r["model"]["layers"], serde_json::json!([12, 16, 2]));
    assert!(r["test"]["error"].as_f64().unwrap() < 0.2, "sentiment words make this easy: {}", r["test"]);
    assert!(!out.join("filters.svg").exists(), "no filter images for text");
    let (_, meta) = relu_nn::checkpoint::load_model(&out.join("model.safetensors")).unwrap();
    let v: Value = serde_json::from_str(&meta["vectorizer"]).unwrap();
    assert_eq!(v["vocab"]["terms"].as_array().unwrap().len(), 12);
}

#[test]
fn review_data_gets_the_text_recipe_unless_a_flag_or_config_sets_it() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 120);
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let a = relu()
            .args(["train", "--hidden", "8", "--epochs", "2", "--vocab", "12", "--data"])
            .arg(format!("reviews:{}", tsv.display()))
            .args(extra)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
        (json(&out.join("report.json"))["training"].clone(), stdout)
    };
    let (t, stdout) = run("recipe", &[]);
    assert_eq!((t["lr"].as_f64().unwrap() as f32, t["lr_schedule"].as_str().unwrap()), (0.03, "cosine"), "{t}");
    assert_eq!(t["input_dropout"].as_f64().unwrap() as f32, 0.3, "{t}");
    assert!(stdout.contains("recipe: SGD lr 0.03 (cosine)") && stdout.contains("input dropout 0.3"), "{stdout}");
    let (t, _) = run("flags", &["--lr", "0.1", "--input-dropout", "0"]);
    assert_eq!((t["lr"].as_f64().unwrap() as f32, t["lr_schedule"].as_str().unwrap()), (0.1, "cosine"), "{t}");
    assert_eq!(t["input_dropout"], 0.0);
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "lr_schedule = \"constant\"\n").unwrap();
    let (t, _) = run("config", &["--config", config.to_str().unwrap()]);
    assert_eq!((t["lr"].as_f64().unwrap() as f32, t["lr_schedule"].as_str().unwrap()), (0.03, "constant"), "{t}");
    // Images keep the paper's defaults.
    let out = dir.path().join("images");
    quick_train(&out, &[]).success();
    let t = &json(&out.join("report.json"))["training"];
    assert_eq!((t["lr_schedule"].as_str().unwrap(), t["input_dropout"].as_f64().unwrap()), ("constant", 0.0), "{t}");
}

#[test]
fn star_ratings_report_rmse() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_ratings_tsv(dir.path(), 200);
    let out = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "8", "--epochs", "2", "--target", "rating", "--quiet", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r = json(&out.join("report.json"));
    assert_eq!(r["model"]["output"], "ratings");
    let rmse = r["test"]["rmse"].as_f64().expect("rmse is a number for ratings");
    assert!(rmse > 0.0 && rmse < 4.0, "{rmse}");
}

#[test]
fn reviews_with_other_labels_train_one_class_per_label() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_three_class_tsv(dir.path(), 300, ["0", "1", "2"]);
    let out = dir.path().join("run");
    // No --target: labels 0/1/2 are not polarity labels, so they load as three classes (this
    // file used to be rejected), and one line says so.
    let a = relu()
        .args(["train", "--hidden", "16", "--epochs", "4", "--lr", "0.1", "--vocab", "18", "--quiet", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert_eq!(stderr.lines().filter(|l| l.contains("not polarity labels")).count(), 1, "{stderr}");
    assert!(stderr.contains("3 classes (0, 1, 2)"), "{stderr}");
    let r = json(&out.join("report.json"));
    assert_eq!(r["model"]["layers"], serde_json::json!([18, 16, 3]));
    let error = r["test"]["error"].as_f64().expect("classes are scored by error rate");
    assert!(error < 0.2, "each class has its own words: {error}");
    let (_, meta) = relu_nn::checkpoint::load_model(&out.join("model.safetensors")).unwrap();
    let input: Value = serde_json::from_str(&meta["input"]).unwrap();
    assert_eq!((&input["target"], &input["classes"]), (&serde_json::json!("class"), &serde_json::json!(["0", "1", "2"])));
    // Polarity files keep loading as polarity, silently.
    let tsv = write_reviews_tsv(dir.path(), 120);
    let a = relu()
        .args(["train", "--hidden", "8", "--epochs", "1", "--vocab", "12", "--quiet", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(dir.path().join("polarity"))
        .assert()
        .success();
    assert!(a.get_output().stderr.is_empty(), "{}", String::from_utf8_lossy(&a.get_output().stderr));
    let (_, meta) = relu_nn::checkpoint::load_model(&dir.path().join("polarity").join("model.safetensors")).unwrap();
    let input: Value = serde_json::from_str(&meta["input"]).unwrap();
    assert_eq!((&input["target"], input.get("classes")), (&serde_json::json!("polarity"), None));
}

#[test]
fn cross_validation_writes_per_fold_results() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 150);
    let out = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "8", "--epochs", "2", "--lr", "0.1", "--folds", "3", "--quiet", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let cv = json(&out.join("cv.json"));
    assert_eq!(cv["folds"], 3);
    assert_eq!(cv["metric"], "error");
    let folds = cv["per_fold"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    assert_eq!(folds.iter().map(|f| f["test"].as_u64().unwrap()).sum::<u64>(), 150, "every review is tested once");
    assert!(out.join("report.json").is_file(), "the final model is trained too");
}

#[test]
fn acl_folder_trains() {
    let dir = tempfile::tempdir().unwrap();
    let acl = write_acl_dir(dir.path(), 60);
    let out = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "8", "--epochs", "2", "--quiet", "--bow", "counts", "--data"])
        .arg(format!("acl:{}", acl.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(json(&out.join("report.json"))["dataset"]["test"], 24);
}

/// Spawns `relu ARGS --out OUT` with plain progress (stdout and stderr piped) and waits for the
/// progress line starting with `line`. The line reader is returned with the child and must live
/// as long as it: closing the pipe would fail the run's later progress output.
#[cfg(unix)]
fn spawn_until(
    args: &[&str],
    out: &std::path::Path,
    line: &str,
) -> (std::process::Child, std::io::Lines<std::io::BufReader<std::process::ChildStdout>>) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_relu"))
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.by_ref().map_while(Result::ok).any(|l| l.starts_with(line)), "no `{line}` line");
    (child, lines)
}

/// The real Ctrl-C path: SIGINT while training saves a resumable state and exits with 130.
#[cfg(unix)]
#[test]
fn sigint_saves_a_resumable_state() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Long enough (hundreds of epochs) that it is still running when the signal arrives. Plain
    // progress prints a line per epoch; the first one proves the handler is installed and
    // training is under way.
    let (mut child, _lines) =
        spawn_until(&["train", "--hidden", "16", "--epochs", "500", "--limit", "2000", "--threads", "1"], &out, "epoch 1/500");
    // Resuming the folder while its run is still going is refused (it used to mix their files).
    // Its epoch-1 checkpoint is written just after the epoch line.
    let state = out.join("train_state.safetensors");
    for _ in 0..500 {
        if state.is_file() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_usage_error(
        relu().args(["train", "--resume"]).arg(&out).assert(),
        &["--out", "another relu process", &format!("pid {}", child.id())],
    );
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(out.join("train_state.safetensors").is_file());
    assert!(!out.join("report.json").exists());
    // The saved state loads, with some but not all epochs done.
    let (_, state, config) = relu_nn::checkpoint::load_training(&out.join("train_state.safetensors")).unwrap();
    assert!(state.completed_epochs >= 1 && state.completed_epochs < 500);
    assert_eq!(config.epochs, 500);
    assert!(!out.join(".relu.lock").exists(), "the interrupted run released its folder");
}

/// A second SIGINT 50 ms after the first does not cut short the save the first one started
/// (it used to exit at once, leaving only config.toml from the interrupted epoch).
#[cfg(unix)]
#[test]
fn a_second_sigint_lets_the_save_finish() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // A large state (two 2000-unit layers with momentum, ≈ 80 MB) takes a while to write.
    let args = ["train", "--hidden", "2000,2000", "--momentum", "0.9", "--epochs", "100", "--limit", "400", "--threads", "2"];
    let (mut child, _lines) = spawn_until(&args, &out, "epoch 1/100");
    let int = || Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success();
    assert!(int());
    std::thread::sleep(std::time::Duration::from_millis(50));
    // (Until it is waited for, an exited child is a zombie that still takes signals.)
    assert!(int());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("--resume"), "the save finished and said how to resume: {stderr}");
    let (_, state, _) = relu_nn::checkpoint::load_training(&out.join("train_state.safetensors")).unwrap();
    assert!(state.completed_epochs >= 1, "{}", state.completed_epochs);
}

/// The real `kill -9`: SIGKILL while epoch 5 of 10 runs; `--resume` continues from the last
/// end-of-epoch checkpoint and ends with the uninterrupted run's model bytes.
#[cfg(unix)]
#[test]
fn sigkill_in_epoch_5_of_10_resumes_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    let args = ["train", "--hidden", "400", "--epochs", "10", "--limit", "2000", "--threads", "2"];
    relu().args(args).arg("--out").arg(&full).arg("--quiet").assert().success();
    // The line of epoch 4 is printed when it ends: the kill lands in epoch 5 (or while epoch 4's
    // checkpoint is being written).
    let (mut child, _lines) = spawn_until(&args, &killed, "epoch 4/10");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{status:?}");
    assert!(!killed.join("report.json").exists());
    let (_, state, _) = relu_nn::checkpoint::load_training(&killed.join("train_state.safetensors")).unwrap();
    assert!((3..=4).contains(&state.completed_epochs), "checkpoint after {} epochs", state.completed_epochs);
    relu().args(["train", "--quiet", "--resume"]).arg(&killed).assert().success();
    let bytes = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(bytes(&full) == bytes(&killed), "the resumed model.safetensors differs in bytes from the uninterrupted run's");
}

/// A disk that fills while the final files are written: every file larger than 150 KiB fails
/// (`ulimit -f`, SIGXFSZ ignored so the write returns EFBIG as on a full disk). The end-of-epoch
/// checkpoint (≈ 130 KB) fits; filters.svg (≈ 220 KB) does not. The run must fail naming the
/// file, leave no final file and no temporary file behind, keep its checkpoint, and
/// `--resume` once there is room must end with the uninterrupted run's bytes.
#[cfg(unix)]
#[test]
fn a_full_disk_at_the_end_leaves_no_partial_run_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (full, cut) = (dir.path().join("full"), dir.path().join("cut"));
    let args = ["train", "--hidden", "20", "--epochs", "2", "--limit", "200", "--threads", "2", "--quiet"];
    relu().args(args).arg("--out").arg(&full).assert().success();
    let a = assert_cmd::Command::new("bash")
        .args(["-c", r#"trap "" XFSZ; ulimit -f 150; exec "$0" "$@""#, env!("CARGO_BIN_EXE_relu")])
        .args(args)
        .arg("--out")
        .arg(&cut)
        .assert();
    assert_usage_error(a, &["filters.svg", "File too large"]);
    let mut left: Vec<String> = std::fs::read_dir(&cut).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["config.toml", "train_state.safetensors"], "only the resumable state survives a failed final write");
    relu().args(["train", "--quiet", "--resume"]).arg(&cut).assert().success();
    for file in ["model.safetensors", "filters.svg"] {
        assert!(std::fs::read(full.join(file)).unwrap() == std::fs::read(cut.join(file)).unwrap(), "{file} differs after the resume");
    }
    assert!(!cut.join("train_state.safetensors").exists(), "a finished run drops its checkpoint");
}

/// `--pretrain dae` pre-trains every hidden layer on all training inputs (18,000, not the 500 of
/// `--limit`), reports each layer's reconstruction error per epoch, and lowers it.
#[test]
fn pretraining_reports_falling_reconstruction_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    quick_train(&out, &["--hidden", "32,16", "--pretrain", "dae:softplus", "--pretrain-epochs", "2", "--corruption", "masking:0.25"])
        .success()
        .stdout(predicates::str::contains("pre-train layer 2 epoch 2/2"));
    let r = json(&out.join("report.json"));
    let p = &r["pretraining"];
    assert_eq!(p["method"], "dae:softplus");
    assert_eq!(p["reconstruction"], serde_json::json!(["softplus", "softplus"]));
    assert_eq!(p["corruption"], "masking:0.25");
    assert_eq!(p["unlabeled"], 18000);
    let history = p["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    for layer in 1..=2u64 {
        let initial = assert_number(&p["initial_error"][layer as usize - 1], "initial error");
        let last = history.iter().rfind(|h| h["layer"] == layer).unwrap();
        let after = assert_number(&last["reconstruction_error"], "reconstruction error");
        assert!(after < initial, "layer {layer}: reconstruction error {initial} -> {after}");
    }
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(cfg.contains("pretrain = \"dae:softplus\""), "{cfg}");
}

/// `relu pretrain` writes a pre-trained network that `relu train --init` fine-tunes; a mismatched
/// architecture is refused.
#[test]
fn pretrain_on_reviews_adds_extra_unlabeled_text() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 120);
    let extra = dir.path().join("extra.tsv.gz");
    // A labelled review file as extra text: 30 reviews with labels no --target reads.
    let lines: String = (0..30).map(|i| format!("stars-{i}\tthe plot was {}\n", if i % 2 == 0 { "superb" } else { "dull" })).collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, lines.as_bytes()).unwrap();
    std::fs::write(&extra, enc.finish().unwrap()).unwrap();
    let pretrain = |name: &str, more: &[String]| {
        let out = dir.path().join(name);
        relu()
            .args(["pretrain", "--hidden", "8", "--pretrain-epochs", "1", "--vocab", "12", "--quiet", "--data"])
            .arg(format!("reviews:{}", tsv.display()))
            .args(more)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        json(&out.join("pretrain.json"))["unlabeled"].as_u64().unwrap()
    };
    let own = pretrain("own", &[]);
    let unlabeled = format!("reviews:{}", extra.display());
    let with_extra = pretrain("extra", &["--unlabeled".into(), unlabeled.clone()]);
    assert_eq!(with_extra, own + 30, "--data's training reviews, then the 30 extra ones");

    // `relu train --pretrain dae --unlabeled` does the same before fine-tuning, and with
    // --folds pre-trains every fold on its own training reviews plus the extra text.
    let out = dir.path().join("train");
    let a = relu()
        .args(["train", "--hidden", "8", "--epochs", "1", "--pretrain", "dae", "--pretrain-epochs", "1", "--vocab", "12"])
        .args(["--folds", "2", "--threads", "2", "--data"])
        .arg(format!("reviews:{}", tsv.display()))
        .args(["--unlabeled", &unlabeled, "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let on = |prefix: &str| -> u64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix) && l.contains("denoising auto-encoders on"))
            .unwrap_or_else(|| panic!("{prefix}: {stdout}"));
        line.split(" on ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap()
    };
    let folds = [on("fold 1/2 "), on("fold 2/2 ")];
    // Each fold trains on about half of the 120 reviews (stratified), plus the 30 extra.
    for n in folds {
        assert!((85..=95).contains(&n), "a fold pre-trained on {n} examples: {stdout}");
    }
    assert_eq!(folds[0] + folds[1], 120 + 2 * 30, "{stdout}");
    assert_eq!(json(&out.join("report.json"))["pretraining"]["unlabeled"].as_u64(), Some(with_extra));
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(cfg.contains(&format!("unlabeled = \"{unlabeled}\"")), "{cfg}");
}

#[test]
fn pretrain_command_then_train_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let pre = dir.path().join("pre");
    let a = relu()
        .args(["pretrain", "--hidden", "24", "--l1", "0.0005", "--pretrain-epochs", "1", "--threads", "2", "--out"])
        .arg(&pre)
        .assert()
        .success()
        .stdout(predicates::str::contains("pre-train layer 1 epoch 1/1"));
    // The closing hint, followed as printed (plus quick-run flags), rebuilds the architecture.
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let hint = stdout.split("fine-tune with `").nth(1).and_then(|h| h.split('`').next()).expect("a fine-tuning hint");
    assert!(hint.contains("--hidden 24") && hint.contains("--l1 0.0005"), "{hint}");
    let words: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(words[..2], ["relu", "train"]);
    let hinted = dir.path().join("hinted");
    relu()
        .args(&words[1..])
        .args(["--epochs", "1", "--limit", "300", "--threads", "2", "--quiet", "--out"])
        .arg(&hinted)
        .assert()
        .success();
    // Without the hint's --l1 the sizes agree, so the refusal says what differs.
    let a = quick_train(&dir.path().join("other-l1"), &["--hidden", "24", "--init", pre.to_str().unwrap()]).failure();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("L1 0.0005") && err.contains("L1 0.001"), "{err}");
    for f in ["model.safetensors", "config.toml", "pretrain.json"] {
        assert!(pre.join(f).is_file(), "{f} missing");
    }
    let p = json(&pre.join("pretrain.json"));
    assert_eq!(p["method"], "dae");
    assert_eq!(p["unlabeled"], 18000);
    let initial = assert_number(&p["initial_error"][0], "initial error");
    let after = assert_number(&p["history"][0]["reconstruction_error"], "reconstruction error");
    assert!(after < initial, "{initial} -> {after}");

    let fine = dir.path().join("fine");
    let pre_dir = pre.to_str().unwrap();
    quick_train(&fine, &["--hidden", "24", "--l1", "0.0005", "--init", pre_dir]).success();
    assert!(fine.join("report.json").is_file());
    // Fine-tuning starts from the pre-trained weights: with --lr tiny, the first layer barely moves.
    let still = dir.path().join("still");
    quick_train(&still, &["--hidden", "24", "--l1", "0.0005", "--lr", "1e-9", "--init", pre_dir]).success();
    let (a, _) = relu_nn::checkpoint::load_model(&pre.join("model.safetensors")).unwrap();
    let (b, _) = relu_nn::checkpoint::load_model(&still.join("model.safetensors")).unwrap();
    let diff = (&a.layers()[0].weight - &b.layers()[0].weight).amax();
    assert!(diff < 1e-6, "first layer moved by {diff}");

    let wrong = dir.path().join("wrong");
    let a = relu().args(["train", "--hidden", "25", "--epochs", "1", "--init"]).arg(&pre).arg("--out").arg(&wrong).assert();
    assert_usage_error(a, &["--init", "784-24-10", "784-25-10"]);
}

/// A strong L1 penalty kills a unit of the second layer in epoch 3 of this run; `--dead-units
/// revive` brings it back (and is recorded), `report` leaves it dead.
#[test]
fn dead_units_are_reported_per_epoch_and_revived_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| -> Value {
        let out = dir.path().join(name);
        relu()
            .args([
                "train",
                "--hidden",
                "200,200",
                "--l1",
                "0.003",
                "--limit",
                "1000",
                "--epochs",
                "4",
                "--threads",
                "2",
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        json(&out.join("report.json"))
    };
    let per_epoch = |r: &Value, key: &str| -> Vec<Vec<u64>> {
        r["history"].as_array().unwrap().iter().map(|h| h[key].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()).collect()
    };
    let report = run("report", &[]);
    let dead = per_epoch(&report, "dead_units");
    assert!(dead.iter().any(|d| d[1] > 0), "the fixture has a dead unit: {dead:?}");
    assert_eq!(dead.last().unwrap(), &dead[dead.iter().position(|d| d[1] > 0).unwrap()], "a dead unit stays dead: {dead:?}");
    let revive = run("revive", &["--dead-units", "revive"]);
    assert_eq!(revive["training"]["dead_units"], "revive");
    let (dead_r, revived) = (per_epoch(&revive, "dead_units"), per_epoch(&revive, "revived"));
    assert_eq!(dead_r, revived, "every dead unit is revived: {dead_r:?} {revived:?}");
    let first = dead.iter().position(|d| d[1] > 0).unwrap();
    assert_eq!(dead_r[..=first], dead[..=first], "identical until the first revival");
    assert_eq!(dead_r.last().unwrap().iter().sum::<u64>(), 0, "none dead at the end: {dead_r:?}");
}

/// `--target-sparsity` moves λ during training, records it per epoch, draws l1.svg, and is kept
/// in config.toml (so `--resume` continues the controller).
#[test]
fn target_sparsity_moves_lambda_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "64", "--epochs", "2", "--limit", "500", "--threads", "2", "--quiet", "--l1", "0.00001"])
        .args(["--target-sparsity", "0.9", "--sparsity-gain", "5", "--out"])
        .arg(&out)
        .assert()
        .success();
    let r = json(&out.join("report.json"));
    assert_eq!(r["training"]["target_sparsity"], serde_json::json!([0.9]));
    let l1: Vec<f64> = r["history"].as_array().unwrap().iter().map(|h| h["l1"][0].as_f64().unwrap()).collect();
    assert!(l1[0] > 1e-5 && l1[1] > l1[0], "λ rises from 1e-5 towards 90 % zeros: {l1:?}");
    assert!(out.join("l1.svg").is_file());
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("[target_sparsity]") && config.contains("gain = 5"), "{config}");
    // Without the flag there is no controller and no plot.
    let plain = dir.path().join("plain");
    quick_train(&plain, &[]).success();
    assert!(json(&plain.join("report.json"))["training"]["target_sparsity"].is_null());
    assert!(!plain.join("l1.svg").exists());
    relu().args(["train", "--target-sparsity", "1.5"]).assert().failure().stderr(predicates::str::contains("--target-sparsity"));
}

/// `--average-from N`: validation from epoch N on scores the running mean of the epoch-end
/// parameters, report.json says how many epochs each score averaged, and a bad N names the flag.
#[test]
fn weight_averaging_is_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, avg) = (dir.path().join("plain"), dir.path().join("avg"));
    quick_train(&plain, &["--epochs", "3"]).success();
    quick_train(&avg, &["--epochs", "3", "--average-from", "2"]).success();
    let (p, a) = (json(&plain.join("report.json")), json(&avg.join("report.json")));
    assert_eq!(a["training"]["average_from"], 2);
    assert!(p["training"]["average_from"].is_null());
    let averaged: Vec<u64> = a["history"].as_array().unwrap().iter().map(|h| h["averaged_epochs"].as_u64().unwrap()).collect();
    assert_eq!(averaged, [0, 1, 2]);
    // Epoch 1 is the same run; epoch 3 is scored on the mean of epochs 2 and 3.
    assert_eq!(a["history"][0]["valid_error"], p["history"][0]["valid_error"]);
    assert_eq!(a["history"][2]["train_loss"], p["history"][2]["train_loss"], "SGD itself is unchanged");
    assert!(std::fs::read_to_string(avg.join("config.toml")).unwrap().contains("average_from = 2"));
    relu()
        .args(["train", "--epochs", "3", "--average-from", "4"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--average-from: invalid weight-averaging start epoch 4"));
}
