//! Loading full MNIST from `.gz` and vectorising the 12,808 Rotten Tomatoes snippets, from the
//! real data in `../shared/data`. Each benchmark is skipped (with a message) when its data is
//! absent. Compile-checked in CI with `cargo bench --no-run`; never timed in tests.

use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use relu_data::mnist;
use relu_data::text::{Targets, Vectorizer, VectorizerConfig, read_tsv};

fn shared(sub: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(sub);
    p.exists().then_some(p)
}

fn mnist_gz(c: &mut Criterion) {
    let Some(dir) = shared("mnist") else {
        eprintln!("skipping mnist_gz: ../shared/data/mnist is absent");
        return;
    };
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.throughput(Throughput::Elements(70_000));
    g.bench_function(BenchmarkId::new("mnist_gz", "70000 images"), |b| b.iter(|| mnist::load_dir(&dir).unwrap()));
    g.finish();
}

fn rotten_tomatoes(c: &mut Criterion) {
    let Some(path) = shared("reviews/rotten_tomatoes_snippets.tsv.gz") else {
        eprintln!("skipping rotten_tomatoes: ../shared/data/reviews is absent");
        return;
    };
    // Reading is done once, outside the timed closures.
    let docs = read_tsv(&path, Targets::Polarity).unwrap();
    let cfg = VectorizerConfig::default();
    let mut g = c.benchmark_group("vectorise");
    g.sample_size(10);
    g.throughput(Throughput::Elements(docs.len() as u64));
    g.bench_function(BenchmarkId::new("fit_vocabulary", format!("{} snippets, {} terms", docs.len(), cfg.max_terms)), |b| {
        b.iter(|| Vectorizer::fit(&docs, &cfg).unwrap())
    });
    let v = Vectorizer::fit(&docs, &cfg).unwrap();
    g.bench_function(BenchmarkId::new("transform_binary", format!("{} snippets", docs.len())), |b| b.iter(|| v.transform(&docs).unwrap()));
    g.finish();
}

criterion_group!(benches, mnist_gz, rotten_tomatoes);
criterion_main!(benches);
