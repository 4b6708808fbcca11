"""Train a small CNN on scikit-learn's digits and export it as ONNX, with calibration and test data.

Needs PyTorch, scikit-learn and onnx, which are NOT dependencies of upyflow: run this
by hand in a separate venv; its outputs are committed so nothing else needs PyTorch.

Outputs (in --out-dir, default: this folder):
  digits.onnx       float32 CNN, input float32 [1, 1, 8, 8] (NCHW, pixels / 16), output [1, 10] logits
  calibration.npy   float32 [300, 1, 8, 8]: training images for `upyflow bake --calibration`
  test.npz          x: float32 [N, 1, 8, 8], y: int64 [N]: the held-out split, never trained on
"""
from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
CALIBRATION = 300


class DigitsNet(nn.Module):
    """conv 3x3 (8) -> depthwise 3x3 -> max pool -> conv 3x3 (16) -> flatten -> FC 10."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]   # N, 1, 8, 8 in [0, 1]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)


def train(x: np.ndarray, y: np.ndarray, epochs: int = 40) -> DigitsNet:
    model = DigitsNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(32):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model.eval()


def accuracy(model: DigitsNet, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    x_train, x_test, y_train, y_test = data()
    model = train(x_train, y_train)
    print("PyTorch float accuracy: train %.4f, held-out %.4f (%d images)"
          % (accuracy(model, x_train, y_train), accuracy(model, x_test, y_test), len(y_test)))
    # the TorchScript exporter (dynamo=False): opset 13, and no onnxscript dependency
    torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), str(out / "digits.onnx"),
                      input_names=["image"], output_names=["logits"], opset_version=13,
                      dynamo=False)
    pick = np.random.default_rng(SEED).choice(len(x_train), CALIBRATION, replace=False)
    np.save(out / "calibration.npy", x_train[np.sort(pick)])
    np.savez_compressed(out / "test.npz", x=x_test, y=y_test)
    print("wrote %s, %s, %s" % (out / "digits.onnx", out / "calibration.npy", out / "test.npz"))


if __name__ == "__main__":
    main()
