//! Saves a small network with every layer kind (sign-flipped rectifier, maxout, softplus,
//! ratings output) to `DIR/model.safetensors`, plus `DIR/io.json` with a batch of inputs and the
//! network's outputs, so the PyTorch recipe in `relu_nn::checkpoint`'s docs can be checked
//! against relu's own forward pass.
//!
//! `cargo run --release -p relu-nn --example export -- DIR`

use std::collections::HashMap;

use relu_core::Activation;
use relu_core::testing::{rng, uniform_matrix};
use relu_nn::{Features, HiddenKind, LayerSpec, Network, NetworkSpec, OutputKind, Workspace};

fn main() -> Result<(), relu_nn::NnError> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: export DIR"));
    let spec = NetworkSpec {
        inputs: 12,
        hidden: vec![
            LayerSpec { units: 8, kind: HiddenKind::Affine { activation: Activation::Rectifier }, l1: 1e-3, sign_flip: true },
            LayerSpec { units: 5, kind: HiddenKind::Maxout { pieces: 3 }, l1: 0.0, sign_flip: false },
            LayerSpec { units: 6, kind: HiddenKind::Affine { activation: "softplus:2".parse()? }, l1: 0.0, sign_flip: false },
        ],
        output: OutputKind::Ratings { levels: 5 },
    };
    let net = Network::new(spec, &mut rng(17))?;
    relu_nn::checkpoint::save_model(&dir.join("model.safetensors"), &net, &HashMap::new())?;
    let x = uniform_matrix(&mut rng(3), 12, 4);
    let out = net.forward(&Features::Dense(x.clone()), &mut Workspace::new(&net, Default::default(), Default::default())).output;
    // Row-major [batch, features] like PyTorch.
    let rows = |m: &nalgebra::DMatrix<f32>| -> Vec<Vec<f32>> { m.column_iter().map(|c| c.iter().copied().collect()).collect() };
    let json = format!("{{\"x\": {:?}, \"y\": {:?}}}", rows(&x), rows(&out));
    relu_nn::checkpoint::write_atomic(&dir.join("io.json"), json.as_bytes())
}
