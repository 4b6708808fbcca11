"""Make the Keras CNN test models a new user would export: .tflite files beside this script.

Needs TensorFlow (`pip install tensorflow-cpu` in a separate venv); TensorFlow is
not an upyflow dependency, the .tflite files are committed and the tests read them.

A standard small CNN (Conv, DepthwiseConv, MaxPool, Conv, Flatten, Dense, Softmax)
at Keras' default dynamic batch, so the converter writes SHAPE -> STRIDED_SLICE ->
PACK -> RESHAPE for Flatten. Trained a few epochs on a synthetic task (which
quadrant of a 16x16 image is brightest) with fixed seeds.

  keras_cnn_int8.tflite   full-integer int8, int8 input and output
  keras_cnn_uint8.tflite  full-integer int8 inside, uint8 input and output
  keras_cnn_fp16.tflite   float32 model with float16 weights (DEQUANTIZE fp16 -> f32)
  keras_cnn_fp16_ref.tflite  the oracle for it: TFLM cannot run float16 DEQUANTIZE, so the
                          same model with its weights rounded through float16, as float32
  keras_upsample_int8.tflite / keras_upsample_f32.tflite  (untrained) Conv, Resizing
                          (nearest -> RESIZE_NEAREST_NEIGHBOR), UpSampling2D (bilinear ->
                          RESIZE_BILINEAR), Conv. (UpSampling2D's default nearest mode exports
                          TILE, which TFLM cannot run.)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

SEED = 1234
SIDE = 16


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noise images with one brighter quadrant; the label is the quadrant (4 of 10 classes used)."""
    x = rng.uniform(0.0, 0.5, size=(n, SIDE, SIDE, 1)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    h = SIDE // 2
    for i, q in enumerate(y):
        r, c = divmod(int(q), 2)
        x[i, r * h : (r + 1) * h, c * h : (c + 1) * h, 0] += 0.5
    return x, y


def build_model(tf):
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(SIDE, SIDE, 1)),  # batch None: dynamic in the .tflite
            layers.Conv2D(8, 3, activation="relu"),
            layers.DepthwiseConv2D(3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(8, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10),
            layers.Softmax(),
        ]
    )


def build_upsample(tf):
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(6, 6, 2)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.Resizing(12, 12, interpolation="nearest"),
            layers.Conv2D(4, 3, activation="relu"),
            layers.UpSampling2D(2, interpolation="bilinear"),
            layers.Conv2D(2, 3),
        ]
    )


def convert(tf, model, rep_x: np.ndarray, kind: str) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "fp16":
        conv.target_spec.supported_types = [tf.float16]
        return conv.convert()

    def rep_data():
        for v in rep_x:
            yield [v[None]]

    conv.representative_dataset = rep_data
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    io = tf.int8 if kind == "int8" else tf.uint8
    conv.inference_input_type = io
    conv.inference_output_type = io
    return conv.convert()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()

    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    x, y = make_data(2000, rng)
    model = build_model(tf)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)
    print("training accuracy: %.3f" % hist.history["accuracy"][-1])

    rep_x, _ = make_data(100, rng)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for kind in ("int8", "uint8", "fp16"):
        data = convert(tf, model, rep_x, kind)
        path = args.out_dir / ("keras_cnn_%s.tflite" % kind)
        path.write_bytes(data)
        print("wrote %s (%d bytes)" % (path, len(data)))
    model.set_weights([w.astype(np.float16).astype(np.float32) for w in model.get_weights()])
    path = args.out_dir / "keras_cnn_fp16_ref.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    print("wrote %s" % path)

    up = build_upsample(tf)
    rep_up = rng.uniform(-1.0, 1.0, size=(50, 6, 6, 2)).astype(np.float32)
    for kind, name in (("int8", "keras_upsample_int8"), (None, "keras_upsample_f32")):
        data = convert(tf, up, rep_up, kind) if kind else tf.lite.TFLiteConverter.from_keras_model(up).convert()
        path = args.out_dir / (name + ".tflite")
        path.write_bytes(data)
        print("wrote %s (%d bytes)" % (path, len(data)))


if __name__ == "__main__":
    main()
