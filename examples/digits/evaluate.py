"""Bake digits.onnx as float32 and as int8 (calibrated on calibration.npy) and compare accuracy
on the held-out split (test.npz): onnxruntime float, upyflow float and int8 on CPython, and the
int8 module under the MicroPython unix port.

Run from anywhere: python examples/digits/evaluate.py [--out-dir out/digits]
Needs upyflow (pip install -e .); onnxruntime and the `micropython` unix port are optional.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import upyflow
from upyflow_tools.bake import bake, read_model
from upyflow_tools.ptq import Quantization, calibration_samples
from upyflow_tools.runner import load_module, model_of

HERE = os.path.dirname(os.path.abspath(__file__))


def load(outdir: str, name: str, tier: str | None = None) -> upyflow.Model:
    return model_of(load_module(os.path.join(outdir, name + ".py")), tier)


def predict(model: upyflow.Model, x: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """(class index per image, raw output bytes); x already in the baked layout (the file's NCHW), float32."""
    raw = []
    for img in x:
        model.set_input(0, np.ascontiguousarray(img, np.float32).tobytes())
        model.invoke()
        raw.append(bytes(model.get_output(0)))
    return np.array([int(np.frombuffer(r, np.float32).argmax()) for r in raw]), raw


def onnxruntime_predict(path: str, x_nchw: np.ndarray) -> np.ndarray | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.array([int(sess.run(None, {name: img[None]})[0].argmax()) for img in x_nchw])


def micropython_predict(outdir: str, name: str, x: np.ndarray,
                       tier: str | None) -> tuple[np.ndarray, list[bytes]] | None:
    from upyflow_tools.unixport import micropython_exe, run_batch
    if micropython_exe() is None:
        return None
    outs, _us = run_batch(outdir, name, [[np.ascontiguousarray(img, np.float32).tobytes()] for img in x],
                          env={"UPYFLOW_TIER": tier} if tier else None)
    raw = [o[0] for o in outs]
    return np.array([int(np.frombuffer(r, np.float32).argmax()) for r in raw]), raw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join("out", "digits"), help="where the baked modules go")
    ap.add_argument("--micropython-tier", choices=["pure", "viper", "native"],
                    help="kernel tier under MicroPython (default: its fastest available)")
    args = ap.parse_args()
    onnx_path = os.path.join(HERE, "digits.onnx")
    test = np.load(os.path.join(HERE, "test.npz"))
    x_nchw, y = test["x"], test["y"]
    calibration = np.load(os.path.join(HERE, "calibration.npy"))

    float_result, _ = bake(onnx_path, args.out_dir, name="digits_float")
    int8_result, _ = bake(onnx_path, args.out_dir, name="digits_int8", quantize=Quantization(calibration))
    print(int8_result.quant_report)
    x = calibration_samples(read_model(onnx_path), x_nchw)    # as the baked model reads it (NCHW, the file's)

    rows = []
    ort = onnxruntime_predict(onnx_path, x_nchw)
    if ort is not None:
        rows.append(("onnxruntime float32", ort))
    rows.append(("upyflow float32 (CPython)", predict(load(args.out_dir, "digits_float"), x)[0]))
    cpy_int8 = load(args.out_dir, "digits_int8")
    int8_pred, int8_raw = predict(cpy_int8, x)
    rows.append(("upyflow int8 (CPython, %s tier)" % cpy_int8.tier, int8_pred))
    mp = micropython_predict(args.out_dir, "digits_int8", x, args.micropython_tier)
    if mp is not None:
        rows.append(("upyflow int8 (MicroPython, %s tier)" % (args.micropython_tier or "default"), mp[0]))
        print("MicroPython int8 outputs byte-identical to CPython's: %s" % ("yes" if mp[1] == int8_raw else "NO"))
    print("\nheld-out accuracy on %d images:" % len(y))
    for label, pred in rows:
        print("  %-40s %.2f%%" % (label, 100 * float(np.mean(pred == y))))
    float_acc = float(np.mean(rows[0][1] == y))
    int8_acc = float(np.mean(rows[-1][1] == y))
    print("int8 - float: %+.2f percentage points" % (100 * (int8_acc - float_acc)))
    return 0 if abs(int8_acc - float_acc) <= 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
