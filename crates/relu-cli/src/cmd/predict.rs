//! `relu predict`: review texts, IDX images or a dataset's test split through a trained model.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nalgebra::DMatrix;
use relu_data::text::Document;
use relu_nn::{Features, OutputKind};

use crate::cli::PredictArgs;
use crate::data::InputKind;
use crate::model_dir::{self, Model};
use relu_experiment::EVAL_BATCH;

/// Runs `relu predict`.
///
/// # Errors
/// Unreadable model or inputs, or inputs that do not fit the model.
pub fn run(args: &PredictArgs) -> Result<u8> {
    let model = model_dir::load(&args.model)?;
    match (&args.data, model.input.kind) {
        (Some(spec), _) => predict_dataset(&model, spec),
        (None, InputKind::Text) => predict_text(&model, &args.files),
        (None, InputKind::Image) => predict_images(&model, &args.files),
    }?;
    Ok(0)
}

/// The most likely output unit and its probability.
fn best(col: impl IntoIterator<Item = f32>) -> (usize, f32) {
    col.into_iter().enumerate().fold((0, f32::MIN), |b, (i, v)| if v > b.1 { (i, v) } else { b })
}

/// What output unit `k` stands for: a `--target class` label, negative/positive for a polarity
/// model, `K stars` for ratings, else the class index (images).
fn class_name(model: &Model, k: usize) -> String {
    match (&model.input.classes, model.net.spec().output, model.input.kind) {
        // `load` checked there is one name per unit.
        (Some(names), _, _) => names[k].clone(),
        (None, OutputKind::Ratings { .. }, _) => format!("{} stars", k + 1),
        (None, OutputKind::Softmax { classes: 2 }, InputKind::Text) => if k == 1 { "positive" } else { "negative" }.to_owned(),
        (None, _, _) => k.to_string(),
    }
}

/// One example's prediction: `CLASS<TAB>PROBABILITY`; for ratings the expected rating, then the
/// most likely one with its probability.
fn prediction(model: &Model, col: nalgebra::DVectorView<'_, f32>) -> String {
    let (k, p) = best(col.iter().copied());
    if let OutputKind::Ratings { .. } = model.net.spec().output {
        let expected: f32 = col.iter().enumerate().map(|(k, &p)| p * (k as f32 + 1.0)).sum();
        return format!("{expected:.2}\t{} ({p:.3})", class_name(model, k));
    }
    format!("{}\t{p:.3}", class_name(model, k))
}

/// `relu predict --data SPEC`: the test split the model would be evaluated on (as `relu eval`),
/// one line per example with its true label last; the error count goes to standard error.
fn predict_dataset(model: &Model, spec_text: &str) -> Result<()> {
    let spec = crate::data::DataSpec::from_flag(spec_text)?;
    let test = crate::data::test_set_for_model(&spec, &model.input, model.vectorizer.as_ref())?;
    crate::cmd::train::check_fits(&model.net, &test, spec_text, &model.path)?;
    let relu_nn::Targets::Classes(labels) = &test.targets else {
        bail!("--data {spec_text}: the test split has no class labels to compare with");
    };
    let probs = forward_all(model, &test.inputs);
    let mut out = std::io::stdout().lock();
    let mut wrong = 0usize;
    for (i, (col, &y)) in probs.column_iter().zip(labels).enumerate() {
        wrong += usize::from(best(col.iter().copied()).0 != y as usize);
        writeln!(out, "{i}\t{}\t{}", prediction(model, col), class_name(model, y as usize))?;
    }
    eprintln!(
        "{} test examples of {spec_text}: {wrong} predicted wrong ({:.2} %)",
        labels.len(),
        100.0 * wrong as f64 / labels.len().max(1) as f64
    );
    Ok(())
}

fn predict_text(model: &Model, files: &[std::path::PathBuf]) -> Result<()> {
    let vectorizer = model.vectorizer.as_ref().context("the text model has no `vectorizer` metadata")?;
    let mut docs: Vec<Document> = Vec::new();
    if files.is_empty() {
        for (i, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.with_context(|| format!("standard input, line {}: expected UTF-8 text", i + 1))?;
            if !line.trim().is_empty() {
                docs.push(Document::text(line, None));
            }
        }
    } else {
        // Plain or gzip text, one document per non-blank line, as every other text reader.
        for f in files {
            docs.extend(relu_data::text::read_lines(f)?);
        }
    }
    let x = vectorizer.transform(&docs).context("cannot build bag-of-words features")?;
    let probs = forward_all(model, &Features::Sparse(x));
    let mut out = std::io::stdout().lock();
    for col in probs.column_iter() {
        writeln!(out, "{}", prediction(model, col))?;
    }
    Ok(())
}

fn predict_images(model: &Model, files: &[std::path::PathBuf]) -> Result<()> {
    if files.is_empty() {
        bail!("FILES: an image model needs IDX image files as arguments (e.g. t10k-images-idx3-ubyte.gz)");
    }
    let inputs = model.net.spec().inputs;
    let mut out = std::io::stdout().lock();
    for f in files {
        // Streamed: one block of images in memory at a time, whatever the file's size.
        let mut chunks = open_images(f, inputs, model.input.shape.as_deref())?;
        let mut first = 0;
        while let Some(block) = chunks.next_chunk(PREDICT_BLOCK).context("cannot read IDX images")? {
            let n = block.dims()[0];
            let pixels = block.to_f32(true);
            if let Some(k) = pixels.iter().position(|v| !v.is_finite()) {
                bail!(
                    "{}: image {} has a non-finite pixel value ({}); expected finite numbers",
                    f.display(),
                    first + k / inputs,
                    pixels[k]
                );
            }
            let probs = forward_all(model, &Features::Dense(DMatrix::from_vec(inputs, n, pixels)));
            for (i, col) in probs.column_iter().enumerate() {
                writeln!(out, "{}:{}\t{}", f.display(), first + i, prediction(model, col))?;
            }
            first += n;
        }
    }
    Ok(())
}

/// Images per block `relu predict` reads, converts and predicts at a time.
const PREDICT_BLOCK: usize = 10_000;

/// Opens an IDX image file for block-wise reading, checking its image shape against the model's.
fn open_images(path: &Path, inputs: usize, shape: Option<&[usize]>) -> Result<relu_data::idx::IdxChunks> {
    let a = relu_data::idx::read_idx_chunks(path).context("cannot read IDX images")?;
    let dims = a.dims();
    let per: usize = dims.iter().skip(1).product();
    // With a recorded shape the image dimensions must match it, not only the pixel count
    // (14 × 56 images are not 28 × 28 ones).
    let fits = dims.len() >= 2 && per == inputs && shape.is_none_or(|s| s == &dims[1..]);
    if !fits {
        let want = shape.map_or(format!("{inputs} pixels"), |s| format!("shape {s:?}"));
        bail!("{}: images of shape {:?}, but the model expects {want} per image", path.display(), dims.get(1..).unwrap_or(&[]));
    }
    Ok(a)
}

fn forward_all(model: &Model, x: &Features) -> DMatrix<f32> {
    let mut ws = relu_experiment::workspace(&model.net);
    let n = x.len();
    let mut out = DMatrix::zeros(model.net.spec().output.units(), n);
    let mut start = 0;
    while start < n {
        let idx: Vec<usize> = (start..(start + EVAL_BATCH).min(n)).collect();
        let cache = model.net.forward(&x.select(&idx), &mut ws);
        out.columns_mut(start, idx.len()).copy_from(&cache.output);
        start += EVAL_BATCH;
    }
    out
}
