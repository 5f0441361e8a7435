//! Hidden codes of a trained network and the statistics of their sparsity, shared by `train`'s
//! plots and `inspect`.

use nalgebra::DMatrix;
use relu_core::{FiringCounter, SparseBatch, SparsityStats};
use relu_nn::{Dataset, Features, Network, Workspace};

/// Evaluation batch size for forward passes outside training.
pub const EVAL_BATCH: usize = 1000;

/// A workspace with the default kernel choice.
pub fn workspace(net: &Network) -> Workspace {
    Workspace::new(net, Default::default(), Default::default())
}

/// Each hidden layer's output on every example of `x`, as one `units × examples` matrix per
/// layer (sparse for rectifier layers).
pub fn hidden_codes(net: &Network, x: &Features) -> Vec<Features> {
    let mut ws = workspace(net);
    let n = x.len();
    let layers = net.spec().hidden.len();
    let mut parts: Vec<Vec<Features>> = vec![Vec::new(); layers];
    let mut start = 0;
    while start < n {
        let idx: Vec<usize> = (start..(start + EVAL_BATCH).min(n)).collect();
        let cache = net.forward(&x.select(&idx), &mut ws);
        for (p, h) in parts.iter_mut().zip(cache.hidden) {
            p.push(h.output);
        }
        start += EVAL_BATCH;
    }
    parts.into_iter().zip(&net.spec().hidden).map(|(p, l)| concat(p, l.units)).collect()
}

/// Concatenates batches of examples (all sparse or all dense) in order.
fn concat(parts: Vec<Features>, units: usize) -> Features {
    let sparse: Option<Vec<&SparseBatch>> = parts.iter().map(|p| if let Features::Sparse(s) = p { Some(s) } else { None }).collect();
    if let Some(sparse) = sparse {
        Features::Sparse(SparseBatch::concat(units, &sparse).expect("codes of one layer have its units"))
    } else {
        let n: usize = parts.iter().map(Features::len).sum();
        let mut m = DMatrix::zeros(units, n);
        let mut col = 0;
        for p in parts {
            let d = p.to_dense();
            m.columns_mut(col, d.ncols()).copy_from(&d);
            col += d.ncols();
        }
        Features::Dense(m)
    }
}

/// The sparse form of a code (exact zeros dropped).
pub fn as_sparse(f: &Features) -> SparseBatch {
    match f {
        Features::Sparse(s) => s.clone(),
        Features::Dense(m) => SparseBatch::from_dense(m),
    }
}

/// Sparsity statistics of every hidden layer on `data`.
pub fn layer_stats(net: &Network, data: &Dataset) -> Vec<SparsityStats> {
    hidden_codes(net, &data.inputs)
        .iter()
        .zip(&net.spec().hidden)
        .map(|(code, l)| {
            let mut c = FiringCounter::new(l.units);
            c.add(&as_sparse(code));
            c.finish()
        })
        .collect()
}
