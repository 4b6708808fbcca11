"""Train upyflow's demo sine regressor and export it as .tflite files.

Needs TensorFlow (e.g. `pip install tensorflow-cpu` in a separate venv).
TensorFlow is NOT a dependency of upyflow: this script is only run by hand
to regenerate the models, and the resulting .tflite files are committed.

Outputs (in --out-dir):
  sine_int8.tflite   full-integer model, int8 input and output
  sine_float.tflite  float32 model
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

SEED = 1234


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random x in [0, 2*pi] with slightly noisy sin(x) targets."""
    x = rng.uniform(0.0, 2 * math.pi, size=(n, 1)).astype(np.float32)
    y = np.sin(x) + rng.normal(0.0, 0.05, size=x.shape).astype(np.float32)
    return x, y


def build_model() -> tf.keras.Model:
    return tf.keras.Sequential([
        tf.keras.Input(shape=(1,)),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(1),
    ])


def to_int8(model: tf.keras.Model, rep_x: np.ndarray) -> bytes:
    """Full-integer quantization, calibrated on rep_x."""
    def rep_data():
        for v in rep_x:
            yield [v.reshape(1, 1)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep_data
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--epochs", type=int, default=300)
    args = ap.parse_args()

    # Fix every source of randomness so reruns give the same weights.
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    np.random.seed(SEED)
    tf.random.set_seed(SEED)
    tf.keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    x, y = make_data(2000, rng)
    model = build_model()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0)
    print(f"final training loss (mse): {hist.history['loss'][-1]:.5f}")

    # Error of the Keras model against the clean function on a regular grid.
    grid = np.linspace(0.0, 2 * math.pi, 200, dtype=np.float32).reshape(-1, 1)
    pred = model.predict(grid, verbose=0)
    print(f"keras MAE vs sin on test grid: {np.mean(np.abs(pred - np.sin(grid))):.5f}")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    rep_x = rng.uniform(0.0, 2 * math.pi, size=(500, 1)).astype(np.float32)
    outputs = {
        "sine_int8.tflite": to_int8(model, rep_x),
        "sine_float.tflite": tf.lite.TFLiteConverter.from_keras_model(model).convert(),
    }
    for name, data in outputs.items():
        path = args.out_dir / name
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
