"""Inference throughput of a relu model in PyTorch on CPU: the forward-only peer of `relu eval`.

Loads relu's `model.safetensors` (the documented [out, in] layout, read with numpy: no
`safetensors` package needed), rebuilds the network as torch.nn.Linear layers (rectifier or tanh
hidden layers, optional sign vectors, softmax output), and times the forward pass over the MNIST
test images in batches, after one warm-up pass. Prints one line:
"torch VERSION threads=T batch=B: N examples/s forward (test error E)".

Usage: python torch_forward.py MODEL_DIR MNIST_DIR [THREADS] [BATCH]
Run by `cargo xtask bench --vs-torch PYTHON` in the same command as `relu eval` on the same model.
"""
import gzip, json, struct, sys, time
import numpy as np
import torch

model_dir, mnist = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
torch.set_num_threads(threads)

raw = open(f"{model_dir}/model.safetensors", "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__", {})
arch = json.loads(meta["architecture"])
data = raw[8 + n:]


def tensor(name):
    h = header[name]
    assert h["dtype"] == "F32", name
    a, b = h["data_offsets"]
    return torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(h["shape"]).copy())


acts = []
for layer in arch["hidden"]:
    if layer["kind"] != "affine" or layer["activation"] not in ("rectifier", "tanh"):
        sys.exit(f"torch_forward.py: only rectifier and tanh layers, not {layer}")
    acts.append(torch.relu if layer["activation"] == "rectifier" else torch.tanh)
layers = []
for i in range(len(arch["hidden"]) + 1):
    lin = torch.nn.Linear(*reversed(tensor(f"layers.{i}.weight").shape))
    with torch.no_grad():
        lin.weight.copy_(tensor(f"layers.{i}.weight"))
        lin.bias.copy_(tensor(f"layers.{i}.bias"))
    sign = tensor(f"layers.{i}.sign") if f"layers.{i}.sign" in header else None
    layers.append((lin, sign))

images = gzip.open(f"{mnist}/t10k-images-idx3-ubyte.gz").read()
labels = gzip.open(f"{mnist}/t10k-labels-idx1-ubyte.gz").read()
count = (len(images) - 16) // 784
X = torch.tensor(np.frombuffer(images, np.uint8, offset=16)[: count * 784].reshape(count, 784).astype(np.float32) / 255)
y = torch.tensor(np.frombuffer(labels, np.uint8, offset=8)[:count].astype(np.int64))


def forward(x):
    for (lin, sign), act in zip(layers[:-1], acts):
        x = act(lin(x))
        if sign is not None:
            x = x * sign
    return layers[-1][0](x).softmax(-1)


with torch.inference_mode():
    for i in range(0, count, batch):
        forward(X[i:i + batch])
    errors = 0
    t = time.perf_counter()
    for i in range(0, count, batch):
        errors += (forward(X[i:i + batch]).argmax(-1) != y[i:i + batch]).sum().item()
    dt = time.perf_counter() - t
print(f"torch {torch.__version__} threads={threads} batch={batch}: {count / dt:.0f} examples/s forward (test error {errors / count:.4f})")
