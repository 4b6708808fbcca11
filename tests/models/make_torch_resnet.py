"""Make the PyTorch model-zoo test models: .onnx files beside this script.

Needs PyTorch and onnxscript, which are not upyflow dependencies:
`pip install torch==2.13.0 onnxscript` (made with torch 2.13.0+cpu, onnxscript 0.7.2,
onnxruntime 1.32.0), then

    python tests/models/make_torch_resnet.py

Seeds are fixed (SEED), training runs on one thread with deterministic algorithms, so a
re-run on the same versions gives the same weights. The tests (tests/test_model_zoo.py)
read the committed files; CI never runs this script.

A ResNet-ish network as a PyTorch user writes one, exported with torch.onnx.export's
defaults (the torch.export-based exporter): a stride-2 stem (Conv, BatchNorm, GELU), a
basic residual block (Conv-BN-GELU-Conv-BN, identity shortcut, GELU), a downsampling
residual block (1x1 Conv-BN shortcut), then two heads: classification (global average
pool, Linear) and a small FPN-like mask decoder (F.interpolate bilinear x2, a lateral 1x1
Conv from the first block added, GELU, F.interpolate nearest x2, 1x1 Conv). Trained
briefly on a synthetic task (a bright square on noise: which quadrant, and its mask).

  torch_resnet_f32.onnx   the float32 export, input "image" 1x3x32x32 NCHW, outputs
                          "logits" 1x4 and "mask" 1x2x32x32
  torch_resnet_ts_f32.onnx  the same network from the older TorchScript exporter
                          (dynamo=False, opset 17): GELU as torch's Erf chain (Div, Erf, Add,
                          Mul, Mul), Resize with a scales input, and a dynamic batch
                          (dynamic_axes, as the tutorials export): input "image" batchx3x32x32
  torch_resnet_qdq.onnx   the float32 export after onnxruntime's quant_pre_process and
                          quantize_static (QDQ, int8 activations and per-channel int8
                          weights, 32 calibration images)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

SEED = 2718
SIDE = 32


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise images (3 channels) with a brighter 8x8 square: its quadrant and its mask."""
    x = rng.normal(0.0, 0.5, size=(n, 3, SIDE, SIDE)).astype(np.float32)
    q = rng.integers(0, 4, size=n)
    mask = np.zeros((n, SIDE, SIDE), np.int64)
    h = SIDE // 2
    for i, k in enumerate(q):
        r, c = divmod(int(k), 2)
        y0, x0 = r * h + int(rng.integers(0, h - 8)), c * h + int(rng.integers(0, h - 8))
        x[i, :, y0 : y0 + 8, x0 : x0 + 8] += rng.uniform(1.0, 2.0, size=(3, 1, 1)).astype(np.float32)
        mask[i, y0 : y0 + 8, x0 : x0 + 8] = 1
    return x, q, mask


def build(torch):
    nn = torch.nn
    F = nn.functional

    def conv_bn(cin, cout, k, stride=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.a = conv_bn(cin, cout, 3, stride)
            self.b = conv_bn(cout, cout, 3)
            self.short = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
            self.act = nn.GELU()

        def forward(self, x):
            return self.act(self.b(self.act(self.a(x))) + self.short(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(conv_bn(3, 8, 3, 2), nn.GELU())
            self.block1 = BasicBlock(8, 8)
            self.block2 = BasicBlock(8, 16, 2)
            self.fc = nn.Linear(16, 4)
            self.lateral = nn.Conv2d(8, 16, 1)
            self.act = nn.GELU()
            self.head = nn.Conv2d(16, 2, 1)

        def forward(self, x):
            f1 = self.block1(self.stem(x))  # 8 x 16 x 16
            f2 = self.block2(f1)  # 16 x 8 x 8
            logits = self.fc(F.adaptive_avg_pool2d(f2, 1).flatten(1))
            up = F.interpolate(f2, scale_factor=2.0, mode="bilinear", align_corners=False)
            d = self.act(up + self.lateral(f1))
            mask = self.head(F.interpolate(d, scale_factor=2.0, mode="nearest"))
            return logits, mask

    return Net()


def train(torch, net, rng, steps: int) -> None:
    x, q, mask = make_data(steps * 16, rng)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    ce = torch.nn.functional.cross_entropy
    net.train()
    for s in range(steps):
        sl = slice(s * 16, (s + 1) * 16)
        logits, m = net(torch.from_numpy(x[sl]))
        loss = ce(logits, torch.from_numpy(q[sl])) + ce(m, torch.from_numpy(mask[sl]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    xt, qt, mt = make_data(128, rng)
    with torch.no_grad():
        logits, m = net(torch.from_numpy(xt))
    acc = float((logits.argmax(1).numpy() == qt).mean())
    pix = float((m.argmax(1).numpy() == mt).mean())
    print("loss %.3f, held-out accuracy %.3f, mask pixel accuracy %.3f" % (loss.item(), acc, pix))


def quantize(src: Path, dst: Path, calib: np.ndarray) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"image": c[None]} for c in calib])

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre))
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()

    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)

    net = build(torch)
    train(torch, net, rng, args.steps)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    f32 = args.out_dir / "torch_resnet_f32.onnx"
    example = torch.from_numpy(make_data(1, rng)[0])
    torch.onnx.export(
        net, (example,), str(f32), input_names=["image"], output_names=["logits", "mask"], external_data=False
    )
    print("wrote %s (%d bytes)" % (f32, f32.stat().st_size))
    legacy = args.out_dir / "torch_resnet_ts_f32.onnx"
    torch.onnx.export(
        net,
        (example,),
        str(legacy),
        input_names=["image"],
        output_names=["logits", "mask"],
        dynamo=False,
        opset_version=17,
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "mask": {0: "batch"}},
    )
    print("wrote %s (%d bytes)" % (legacy, legacy.stat().st_size))
    qdq = args.out_dir / "torch_resnet_qdq.onnx"
    quantize(f32, qdq, make_data(32, rng)[0])
    print("wrote %s (%d bytes)" % (qdq, qdq.stat().st_size))


if __name__ == "__main__":
    main()
