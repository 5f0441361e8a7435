//! `relu eval`, `inspect`, `predict`, `data info` and the help texts.

mod common;

use common::*;

#[test]
fn help_lists_every_command_and_train_flag() {
    let a = relu().arg("--help").assert().success();
    let help = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    for c in ["train", "eval", "inspect", "predict", "encode", "sweep", "reproduce", "data"] {
        assert!(help.contains(c), "{help}");
    }
    let a = relu().args(["train", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    for flag in [
        "--data",
        "--hidden",
        "--activation",
        "--l1",
        "--sign-flip",
        "--lr",
        "--momentum",
        "--batch",
        "--epochs",
        "--patience",
        "--seed",
        "--threads",
        "--out",
        "--resume",
        "--quiet",
        "--config",
        "--limit",
        "--vocab",
        "--bow",
        "--target",
        "--folds",
        "--sync-every",
        "maxout:K",
    ] {
        assert!(help.contains(flag), "train --help lacks {flag}");
    }
    assert!(!help.contains("--stop-after-batches"), "the testing aid stays hidden");
    relu().arg("--version").assert().success().stdout(predicates::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn eval_reports_the_training_test_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("run");
    quick_train(&model, &["--quiet"]).success();
    let report = json(&model.join("report.json"));
    let a = relu().args(["eval", "--json", "--threads", "2", "--model"]).arg(&model).args(["--data", "mnist"]).assert().success();
    let e: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(e["examples"], 2000);
    assert_eq!(e["error"], report["test"]["error"], "eval sees the test split train reported");
    assert_eq!(e["sparsity"], report["sparsity"]);
    assert_eq!(e["dead_units"], report["dead_units"]);
    assert!(e["rmse"].is_null());
    // Text output; the data spec defaults to the model's.
    relu()
        .args(["eval", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicates::str::contains("error").and(predicates::str::contains("layer 1")).and(predicates::str::contains("dead")));
}

use predicates::prelude::*;

#[test]
fn text_models_eval_and_predict_from_stdin_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 300);
    let spec = format!("reviews:{}", tsv.display());
    let model = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "16", "--epochs", "4", "--lr", "0.1", "--vocab", "12", "--quiet", "--data", &spec, "--out"])
        .arg(&model)
        .assert()
        .success();
    let report = json(&model.join("report.json"));
    let a = relu().args(["eval", "--json", "--model"]).arg(&model).assert().success();
    let e: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(e["examples"], 60);
    assert_eq!(e["error"], report["test"]["error"], "eval rebuilds the held-out test documents with the model's vocabulary");
    // predict --data: the same 60 held-out reviews, with their labels as words.
    let a = relu().args(["predict", "--model"]).arg(&model).args(["--data", &spec]).assert().success();
    let rows = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 60);
    assert!(rows.iter().all(|r| r.len() == 4 && ["positive", "negative"].contains(&r[1]) && ["positive", "negative"].contains(&r[3])));
    let wrong = rows.iter().filter(|r| r[1] != r[3]).count() as f64;
    assert!((wrong / 60.0 - e["error"].as_f64().unwrap()).abs() < 1e-9, "{wrong} wrong vs eval's {}", e["error"]);

    let a = relu()
        .args(["predict", "--model"])
        .arg(&model)
        .write_stdin("a wonderful superb film\nboring awful plot, terrible actors\n")
        .assert()
        .success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("positive\t"), "{out}");
    assert!(lines[1].starts_with("negative\t"), "{out}");
    let p: f64 = lines[0].split('\t').nth(1).unwrap().parse().unwrap();
    assert!((0.5..=1.0).contains(&p));
    let file = dir.path().join("new.txt");
    std::fs::write(&file, "excellent and moving\n").unwrap();
    relu().args(["predict", "--model"]).arg(&model).arg(&file).assert().success().stdout(predicate::str::starts_with("positive\t"));
    assert_usage_error(relu().args(["predict", "--model"]).arg(&model).arg(dir.path().join("absent.txt")).assert(), &["absent.txt"]);
    // Gzip text reads like plain text (it used to be a UTF-8 error); blank lines are skipped.
    let gz = dir.path().join("new.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, b"dull boring tedious\n\nexcellent superb\n").unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let a = relu().args(["predict", "--model"]).arg(&model).arg(&gz).assert().success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let labels: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(labels, ["negative", "positive"], "{out}");
    // --threads is capped on eval and inspect, as on train.
    for cmd in [&["eval", "--model"][..], &["inspect", "--model"][..]] {
        assert_usage_error(relu().args(cmd).arg(&model).args(["--threads", "10000"]).assert(), &["--threads", "1024"]);
    }
}

#[test]
fn class_models_eval_and_predict_their_label_names() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_three_class_tsv(dir.path(), 300, ["spam", "ham", "eggs"]);
    let spec = format!("reviews:{}", tsv.display());
    let model = dir.path().join("run");
    let a = relu()
        .args(["train", "--target", "class", "--hidden", "16", "--epochs", "4", "--lr", "0.1", "--vocab", "18", "--quiet"])
        .args(["--data", &spec, "--out"])
        .arg(&model)
        .assert()
        .success();
    assert!(a.get_output().stderr.is_empty(), "an explicit --target class needs no note");
    let report = json(&model.join("report.json"));
    let a = relu().args(["eval", "--json", "--model"]).arg(&model).assert().success();
    let e: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(e["error"], report["test"]["error"], "eval numbers the labels as the model's classes");
    let a = relu()
        .args(["predict", "--model"])
        .arg(&model)
        .write_stdin("boring awful tedious\nsuperb wonderful great\nokay mixed average\n")
        .assert()
        .success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let labels: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(labels, ["spam", "ham", "eggs"], "{out}");
    // A file with a label the model never saw cannot be evaluated with it.
    let other = dir.path().join("other.tsv");
    std::fs::write(&other, std::fs::read_to_string(&tsv).unwrap().replacen("eggs\t", "toast\t", 1)).unwrap();
    assert_usage_error(
        relu().args(["eval", "--model"]).arg(&model).args(["--data", &format!("reviews:{}", other.display())]).assert(),
        &["other.tsv", "`toast`", "3 classes (eggs, ham, spam)"],
    );
}

#[test]
fn image_models_predict_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let idx = write_idx_dir(dir.path(), 150, 30, 8);
    let model = dir.path().join("run");
    relu()
        .args(["train", "--hidden", "16", "--epochs", "5", "--lr", "0.1", "--quiet", "--data"])
        .arg(format!("mnist:{}", idx.display()))
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    let test_images = idx.join("t10k-images-idx3-ubyte.gz");
    let a = relu().args(["predict", "--model"]).arg(&model).arg(&test_images).assert().success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 30);
    // The fixture's classes cycle 0, 1, 2; a trained model gets most of them right.
    let correct = lines.iter().enumerate().filter(|(i, l)| l.split('\t').nth(1) == Some(&(i % 3).to_string())).count();
    assert!(correct >= 20, "{correct}/30 correct:\n{out}");
    assert!(lines[0].starts_with(&format!("{}:0\t", test_images.display())));

    // --data: the test split `relu eval` scores, with the true label last and the same
    // predictions as the file; the count of wrong ones on standard error matches eval's error.
    let spec = format!("mnist:{}", idx.display());
    let a = relu().args(["predict", "--model"]).arg(&model).args(["--data", &spec]).assert().success();
    let by_data = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let rows: Vec<Vec<&str>> = by_data.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 30);
    for (i, (row, line)) in rows.iter().zip(&lines).enumerate() {
        assert_eq!(row[0], i.to_string());
        assert_eq!(row[1..3], line.split('\t').skip(1).collect::<Vec<_>>()[..], "example {i}");
        assert_eq!(row[3], (i % 3).to_string(), "true label of example {i}");
    }
    let wrong = rows.iter().filter(|r| r[1] != r[3]).count();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(stderr.contains(&format!("30 test examples of {spec}: {wrong} predicted wrong")), "{stderr}");
    let eval = relu().args(["eval", "--json", "--model"]).arg(&model).args(["--data", &spec]).assert().success();
    let eval: serde_json::Value = serde_json::from_slice(&eval.get_output().stdout).unwrap();
    assert!((eval["error"].as_f64().unwrap() - wrong as f64 / 30.0).abs() < 1e-9, "{eval}");
    let a = relu().args(["predict", "--model"]).arg(&model).args(["--data", &spec]).arg(&test_images).assert();
    assert_usage_error(a, &["--data", "cannot be used with"]);
}

#[test]
fn inspect_writes_the_sparsity_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("run");
    quick_train(&model, &["--hidden", "32,16", "--quiet"]).success();
    let out = dir.path().join("inspect");
    let a = relu()
        .args(["inspect", "--examples", "300", "--probe-train", "300", "--probe-epochs", "10", "--threads", "2", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(stdout.contains("Jaccard") && stdout.contains("probe accuracy"), "{stdout}");
    let j = json(&out.join("inspect.json"));
    assert_eq!(j["examples"], 300);
    assert!((j["noise_sigma"].as_f64().unwrap() - 0.01).abs() < 1e-7);
    let input_acc = j["input"]["probe_accuracy"].as_f64().unwrap();
    assert!(input_acc > 0.5, "a linear probe on pixels beats chance: {input_acc}");
    let layers = j["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for (i, l) in layers.iter().enumerate() {
        assert_eq!(l["layer"], i + 1);
        for k in ["sparsity", "jaccard", "probe_accuracy"] {
            let v = l[k].as_f64().unwrap_or_else(|| panic!("layers[{i}].{k}: {l}"));
            assert!((0.0..=1.0).contains(&v), "layers[{i}].{k} = {v}");
        }
        // Tiny noise barely changes which units are active.
        assert!(l["jaccard"].as_f64().unwrap() > 0.8, "{l}");
        let a = &l["active_per_example"];
        assert_eq!(a["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 300);
        assert!(a["mean"].as_f64().unwrap() <= l["units"].as_f64().unwrap());
        assert!(l["dead_units"].as_u64().is_some());
    }
    // Per-unit activity, not a copy of train's active_units.svg: each layer's line is labelled
    // with the dead units inspect.json counts.
    let usage = svg_text(&out.join("inspect_unit_usage.svg"));
    for (i, l) in layers.iter().enumerate() {
        let label = format!("layer {} ({} dead)", i + 1, l["dead_units"]);
        assert!(usage.contains(&label), "{label} not in {usage}");
    }
    assert!(!out.join("inspect_active_units.svg").exists());
    assert!(svg_text(&out.join("inspect_layers.svg")).contains("linear-probe accuracy"));
    // More noise moves more units in or out of the active sets.
    let noisy = dir.path().join("noisy");
    relu()
        .args(["inspect", "--examples", "300", "--probe-train", "100", "--probe-epochs", "1", "--noise", "0.5", "--json", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&noisy)
        .assert()
        .success();
    let n = json(&noisy.join("inspect.json"));
    assert!(n["layers"][0]["jaccard"].as_f64().unwrap() < layers[0]["jaccard"].as_f64().unwrap());
}

#[test]
fn data_info_describes_splits() {
    let a = relu().args(["data", "info", "mnist", "--json"]).assert().success();
    let j: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(j["inputs"], 784);
    assert_eq!(j["shape"], serde_json::json!([28, 28]));
    assert_eq!(j["classes"], 10);
    for (split, n) in [("train", 18000), ("valid", 2000), ("test", 2000)] {
        assert_eq!(j[split]["examples"], n);
        assert_eq!(j[split]["labels"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), n);
        let d = j[split]["density"].as_f64().unwrap();
        assert!((0.1..0.3).contains(&d), "MNIST pixels are ≈19 % non-zero: {d}");
    }
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_reviews_tsv(dir.path(), 100);
    relu()
        .args(["data", "info", "--vocab", "10"])
        .arg(format!("reviews:{}", tsv.display()))
        .assert()
        .success()
        .stdout(predicate::str::contains("10 bag-of-words features").and(predicate::str::contains("test")));
}

/// A reader written from the svmlight format's definition, independent of relu's writer: one line
/// per example, `LABEL INDEX:VALUE …`, 1-based indices.
fn read_svmlight(text: &str, units: usize) -> (nalgebra::DMatrix<f32>, Vec<u32>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut m = nalgebra::DMatrix::zeros(units, lines.len());
    let mut labels = Vec::new();
    for (e, line) in lines.iter().enumerate() {
        let mut parts = line.split_whitespace();
        labels.push(parts.next().expect("a label").parse().expect("an integer label"));
        let mut last = 0;
        for pair in parts {
            let (i, v) = pair.split_once(':').expect("INDEX:VALUE");
            let i: usize = i.parse().unwrap();
            assert!(i > last && i <= units, "indices ascend within 1..={units}: {line}");
            last = i;
            m[(i - 1, e)] = v.parse().unwrap();
        }
    }
    (m, labels)
}

#[test]
fn encode_writes_the_dense_codes_as_svmlight_and_csr() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    quick_train(&run, &["--hidden", "40,24"]).success();
    // The reference: the model's codes of the embedded test digits, computed densely here.
    let (net, _) = relu_nn::checkpoint::load_model(&run.join("model.safetensors")).unwrap();
    let test = relu_data::mnist_embedded().unwrap().test;
    let cache = net.forward(&test.inputs, &mut relu_nn::Workspace::new(&net, Default::default(), Default::default()));
    let relu_nn::Targets::Classes(labels) = &test.targets else { panic!("class targets") };
    for (layer, units) in [(1usize, 40usize), (2, 24)] {
        let want = cache.hidden[layer - 1].output.to_dense();
        let svm = dir.path().join(format!("codes{layer}.svm"));
        let a = relu().args(["encode", "--model"]).arg(&run).args(["--layer", &layer.to_string(), "--out"]).arg(&svm).assert().success();
        assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("2000 test examples"));
        let (got, got_labels) = read_svmlight(&std::fs::read_to_string(&svm).unwrap(), units);
        assert_eq!(&got_labels, labels);
        assert_eq!(got, want, "layer {layer}: svmlight codes differ from the network's");
    }
    // CSR tensors: the default layer is the top one.
    let csr = dir.path().join("codes.safetensors");
    relu().args(["encode", "--model"]).arg(&run).arg("--out").arg(&csr).assert().success();
    let bytes = std::fs::read(&csr).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let i64s =
        |name: &str| -> Vec<i64> { st.tensor(name).unwrap().data().chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect() };
    let values: Vec<f32> = st.tensor("values").unwrap().data().chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let (indptr, indices) = (i64s("indptr"), i64s("indices"));
    assert_eq!(indptr.len(), 2001);
    let mut dense = nalgebra::DMatrix::zeros(24, 2000);
    for e in 0..2000 {
        for k in indptr[e] as usize..indptr[e + 1] as usize {
            dense[(indices[k] as usize, e)] = values[k];
        }
    }
    assert_eq!(dense, cache.hidden[1].output.to_dense());
    assert_eq!(i64s("labels"), labels.iter().map(|&l| i64::from(l)).collect::<Vec<_>>());
    relu()
        .args(["encode", "--model"])
        .arg(&run)
        .args(["--layer", "3", "--out"])
        .arg(dir.path().join("x.svm"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("--layer: invalid layer 3: expected 1 to 2"));
}

#[test]
fn a_sweep_trains_every_combination_as_relu_train_would() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, "data = \"mnist\"\nhidden = [16]\nepochs = 2\nlimit = 300\nthreads = 1\n[grid]\nl1 = [0.0, 0.003]\n[[runs]]\nlr = 0.05\n[[runs]]\nlr = 0.01\n").unwrap();
    let out = dir.path().join("sweep");
    relu().args(["sweep", "--quiet", "--config"]).arg(&file).arg("--out").arg(&out).assert().success();
    let r = json(&out.join("report.json"));
    let nets = r["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 4);
    assert_eq!(nets[1]["label"], "lr = 0.05, l1 = 0.003");
    assert_eq!(r["missing"], serde_json::json!([]));
    let best = r["best_by_validation"].as_u64().unwrap() as usize;
    let min = nets.iter().map(|n| n["valid_error"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
    assert_eq!(nets[best - 1]["valid_error"].as_f64().unwrap(), min);
    assert!(std::fs::read_to_string(out.join("table.md")).unwrap().contains("| 2 | lr = 0.05, l1 = 0.003 |"));
    // Network 2 is exactly the `relu train` run of its settings.
    let single = dir.path().join("single");
    relu()
        .args([
            "train",
            "--data",
            "mnist",
            "--hidden",
            "16",
            "--epochs",
            "2",
            "--limit",
            "300",
            "--threads",
            "1",
            "--lr",
            "0.05",
            "--l1",
            "0.003",
            "--quiet",
            "--out",
        ])
        .arg(&single)
        .assert()
        .success();
    let t = json(&single.join("report.json"));
    assert_eq!(t["test"]["error"], nets[1]["test_error"]);
    assert_eq!(t["test"]["loss"], nets[1]["test_loss"]);
    assert_eq!(t["valid"]["error"], nets[1]["valid_error"]);
}

#[test]
fn a_bad_sweep_file_names_the_network_and_setting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, "hidden = [16]\n[grid]\nlr = [0.1, -0.5]\n").unwrap();
    assert_usage_error(
        relu().args(["sweep", "--config"]).arg(&file).arg("--out").arg(dir.path().join("o")).assert(),
        &["network 2 (lr = -0.5)", "--lr"],
    );
    assert!(!dir.path().join("o").join("report.json").exists());
}
