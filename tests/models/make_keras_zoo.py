"""Make the Keras model-zoo test models: .tflite files beside this script.

Needs TensorFlow and the TFLM interpreter (for the oracle), which are not upyflow
dependencies: in a separate venv, `pip install tensorflow-cpu tflite-micro` (made with
tensorflow-cpu 2.21.0, Keras 3.15.1, tflite-micro 0.dev20261023182759), then

    python tests/models/make_keras_zoo.py            # writes the files below
    python tests/models/make_keras_zoo.py --check    # also prints the streaming self-check

Seeds are fixed (SEED) and oneDNN is off, so a re-run on the same versions gives the
same weights. The tests (tests/test_model_zoo.py) read the committed files; CI never
runs this script.

  keras_gelu_int8.tflite / keras_gelu_f32.tflite
      a small image classifier with GELU: Conv2D(gelu), Conv2D + GELU tanh-approximated,
      GlobalAveragePooling2D, Dense(gelu), Dense, Softmax, at Keras' dynamic batch; trained
      a few epochs on which quadrant of a 12x12 image is brightest. int8: full-integer int8
      (GELU runs as TFLM's int8 GELU), float32: the same model unquantized.
  keras_kws_stream_int8.tflite / keras_kws_stream_f32.tflite
      a streaming keyword model as microWakeWord builds them: one 16-feature frame per
      invoke, three tf.Variable ring buffers (the last 2 frames for a (3,1) Conv2D, the
      last 4 for a (5,1) DepthwiseConv2D, the last 7 pointwise outputs for the Flatten ->
      Dense head) assigned every step, so the converter writes VAR_HANDLE / READ_VARIABLE
      / ASSIGN_VARIABLE and a CALL_ONCE init subgraph that zeroes them. Its weights are
      those of the same network trained non-streaming on 14-frame clips (three classes:
      noise, a rising ridge, a falling ridge); after 13 frames of warm-up the streaming
      float model gives the non-streaming one's output for the last 14 frames (--check).
  keras_zoo_oracle.npz
      the GELU models' oracle: TFLM's Python interpreter has no GELU kernel, so inputs and
      outputs of the model run one operator at a time, GELU by TensorFlow Lite's reference
      kernels (BUILTIN_REF op resolver), every other operator by TFLM (whole-model
      TensorFlow Lite is no TFLM oracle: its reference per-channel int8 FULLY_CONNECTED
      rounds some ties one step off TFLM's). Also keras_cnn_int8 run the same op-by-op way,
      which the tests compare with TFLM on the whole model. Needs `pip install tflite-micro`
      beside TensorFlow.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

SEED = 4321
SIDE = 12
FEAT, CLIP = 16, 14  # features per frame; frames the non-streaming model sees
FILES = {
    "gelu_int8": "keras_gelu_int8",
    "gelu_f32": "keras_gelu_f32",
    "kws_int8": "keras_kws_stream_int8",
    "kws_f32": "keras_kws_stream_f32",
}


# --- GELU classifier ------------------------------------------------------------------------
def quadrant_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.0, 0.5, size=(n, SIDE, SIDE, 1)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    h = SIDE // 2
    for i, q in enumerate(y):
        r, c = divmod(int(q), 2)
        x[i, r * h : (r + 1) * h, c * h : (c + 1) * h, 0] += 0.5
    return x, y


def build_gelu(tf):
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(SIDE, SIDE, 1)),
            layers.Conv2D(6, 3, strides=2, activation="gelu"),
            layers.Conv2D(8, 3),
            layers.Activation(lambda t: keras.activations.gelu(t, approximate=True)),
            layers.GlobalAveragePooling2D(),
            layers.Dense(12, activation="gelu"),
            layers.Dense(4),
            layers.Softmax(),
        ]
    )


# --- streaming keyword model ------------------------------------------------------------------
def kws_clips(n: int, rng: np.random.Generator, frames: int = CLIP) -> tuple[np.ndarray, np.ndarray]:
    """Noise frames; class 1 adds a ridge rising across the features over the last 8 frames,
    class 2 a falling one."""
    x = rng.normal(0.0, 0.3, size=(n, frames, 1, FEAT)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    for i, c in enumerate(y):
        if c:
            for t in range(8):
                f = 2 * t if c == 1 else FEAT - 1 - 2 * t
                x[i, frames - 8 + t, 0, f] += 1.5
    return x, y


def build_kws(tf):
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(CLIP, 1, FEAT)),
            layers.Conv2D(12, (3, 1), activation="relu"),
            layers.DepthwiseConv2D((5, 1)),
            layers.Conv2D(12, 1, activation="relu"),
            layers.Flatten(),
            layers.Dense(3),
            layers.Softmax(),
        ]
    )


def streaming_module(tf, kws):
    """The trained non-streaming network as a tf.Module fed one frame per call, its
    receptive field kept in three tf.Variable ring buffers."""
    (w1, b1), (wd, bd), (w2, b2), (wf, bf) = (
        [tf.constant(v) for v in layer.get_weights()] for layer in kws.layers if layer.get_weights()
    )

    class Stream(tf.Module):
        def __init__(self):
            super().__init__()
            self.s1 = tf.Variable(tf.zeros([1, 2, 1, FEAT]), trainable=False, name="s1")
            self.s2 = tf.Variable(tf.zeros([1, 4, 1, 12]), trainable=False, name="s2")
            self.s3 = tf.Variable(tf.zeros([1, 7, 1, 12]), trainable=False, name="s3")

        @tf.function(input_signature=[tf.TensorSpec([1, 1, FEAT], tf.float32)])
        def __call__(self, frame):
            buf1 = tf.concat([self.s1, tf.reshape(frame, [1, 1, 1, FEAT])], axis=1)
            self.s1.assign(buf1[:, 1:])
            h1 = tf.nn.relu(tf.nn.conv2d(buf1, w1, 1, "VALID") + b1)
            buf2 = tf.concat([self.s2, h1], axis=1)
            self.s2.assign(buf2[:, 1:])
            h2 = tf.nn.depthwise_conv2d(buf2, wd, [1, 1, 1, 1], "VALID") + bd
            h3 = tf.nn.relu(tf.nn.conv2d(h2, w2, 1, "VALID") + b2)
            buf3 = tf.concat([self.s3, h3], axis=1)
            self.s3.assign(buf3[:, 1:])
            return tf.nn.softmax(tf.matmul(tf.reshape(buf3, [1, 8 * 12]), wf) + bf)

    return Stream()


# --- conversion -----------------------------------------------------------------------------
def int8_options(conv, tf, rep_data) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep_data
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8


def convert_stream(tf, module, rep_frames, int8: bool) -> bytes:
    fn = module.__call__.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], module)
    conv.experimental_enable_resource_variables = True
    if int8:

        def rep_data():
            for f in rep_frames:  # in stream order: the calibration carries the state
                yield [f.reshape(1, 1, FEAT)]

        int8_options(conv, tf, rep_data)
        conv._experimental_variable_quantization = True  # int8 ring buffers, as microWakeWord's
    return conv.convert()


def check_stream(tf, kws, data: bytes, rng) -> float:
    """Max |streaming - non-streaming| over a 40-frame stream, from frame CLIP on."""
    interp = tf.lite.Interpreter(model_content=data)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    x, _ = kws_clips(1, rng, frames=40)
    worst = 0.0
    for t in range(40):
        interp.set_tensor(inp["index"], x[0, t].reshape(1, 1, FEAT))
        interp.invoke()
        if t >= CLIP - 1:
            want = kws(x[:, t - CLIP + 1 : t + 1]).numpy()
            worst = max(worst, float(np.abs(interp.get_tensor(out["index"]) - want).max()))
    return worst


def tflite_ref(tf, data: bytes, *xs: np.ndarray) -> np.ndarray:
    """TensorFlow Lite's reference kernels (BUILTIN_REF op resolver) on one input set."""
    interp = tf.lite.Interpreter(
        model_content=data, experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF
    )
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), xs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).copy()


def tflm(tf, data: bytes, *xs: np.ndarray) -> np.ndarray:
    """The TFLM interpreter (pip install tflite-micro) on one input set."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(data, arena_size=8 << 20)
    for i, x in enumerate(xs):
        interp.set_input(x, i)
    interp.invoke()
    return np.array(interp.get_output(0))


def single_ops(data: bytes) -> tuple[list[tuple[str, list[int], int, bytes]], int, int]:
    """Each operator of a one-subgraph model as a model of its own, its non-constant inputs
    the graph inputs: ([(opcode, input tensor ids, output tensor id, model bytes)], graph
    input id, graph output id)."""
    import copy

    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    sg = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}

    def const(t: int) -> bool:
        buf = model.buffers[sg.tensors[t].buffer]
        return buf.data is not None and len(buf.data) > 0

    ops = []
    for k, op in enumerate(sg.operators):
        code = model.operatorCodes[op.opcodeIndex]
        one = copy.deepcopy(model)
        one.signatureDefs = None
        s1 = one.subgraphs[0]
        s1.operators = [s1.operators[k]]
        s1.inputs = [int(t) for t in op.inputs if t >= 0 and not const(t)]
        s1.outputs = [int(op.outputs[0])]
        b = flatbuffers.Builder(1024)
        b.Finish(one.Pack(b), file_identifier=b"TFL3")
        ops.append(
            (names[max(code.builtinCode, code.deprecatedBuiltinCode)], s1.inputs, s1.outputs[0], bytes(b.Output()))
        )
    return ops, int(sg.inputs[0]), int(sg.outputs[0])


def op_by_op(tf, data: bytes, x: np.ndarray, gelu_only: bool = True) -> np.ndarray:
    """The model run one operator at a time: GELU by TensorFlow Lite's reference kernels (the
    TFLM interpreter has no GELU kernel), every other operator by TFLM (gelu_only=False:
    every operator by TensorFlow Lite's reference kernels)."""
    ops, first, last = single_ops(data)
    vals = {first: x}
    for kind, ins, out, one in ops:
        run = tflite_ref if kind == "GELU" or not gelu_only else tflm
        vals[out] = run(tf, one, *(vals[t] for t in ins))
    return vals[last]


def quantized(tf, data: bytes, x: np.ndarray) -> np.ndarray:
    """x in the int8 input's quantization: round(x / scale) + zero point, saturated."""
    interp = tf.lite.Interpreter(model_content=data)
    scale, zp = interp.get_input_details()[0]["quantization"]
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


def write_oracle(tf, path: Path, models: dict, rng: np.random.Generator) -> None:
    """keras_zoo_oracle.npz: the GELU models' inputs (images of the training task, then random
    inputs) and outputs run op by op (op_by_op: TFLM, GELU from TensorFlow Lite's reference
    kernels), and the same op-by-op run through keras_cnn_int8 (beside this script, made by
    make_keras_cnn.py), which the tests compare with the whole model in TFLM."""
    img = quadrant_data(6, rng)[0][:, None]
    cnn = (Path(__file__).resolve().parent / "keras_cnn_int8.tflite").read_bytes()
    xs = {
        "gelu_int8": np.concatenate(
            [quantized(tf, models["gelu_int8"], img), rng.integers(-128, 128, size=img.shape).astype(np.int8)]
        ),
        "gelu_f32": np.concatenate([img, rng.uniform(-1.0, 2.0, size=img.shape).astype(np.float32)]),
        "cnn_int8": rng.integers(-128, 128, size=(8, 1, 16, 16, 1)).astype(np.int8),
    }
    arrays = {}
    for key, x in xs.items():
        data = cnn if key == "cnn_int8" else models[key]
        arrays[key + "_x"] = x
        arrays[key + "_y"] = np.stack([op_by_op(tf, data, v) for v in x])
        # the op-by-op mechanics: TensorFlow Lite's reference kernels op by op = the whole model
        whole = np.stack([tflite_ref(tf, data, v) for v in x])
        same = np.array_equal(np.stack([op_by_op(tf, data, v, gelu_only=False) for v in x]), whole)
        print(
            "%s: op by op in TensorFlow Lite = whole model: %s; TFLM/GELU-ref differs from whole "
            "TensorFlow Lite reference in %d outputs" % (key, same, int((whole != arrays[key + "_y"]).sum()))
        )
        assert same
    np.savez_compressed(path, **arrays)
    print("wrote %s (%d bytes)" % (path, path.stat().st_size))


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    print("wrote %s (%d bytes)" % (path, len(data)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--check", action="store_true", help="compare the streaming float model with the clip model")
    args = ap.parse_args()

    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    x, y = quadrant_data(2000, rng)
    gelu = build_gelu(tf)
    gelu.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = gelu.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)
    print("gelu: training accuracy %.3f" % hist.history["accuracy"][-1])
    rep_x, _ = quadrant_data(100, rng)

    def rep_gelu():
        for v in rep_x:
            yield [v[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(gelu)
    int8_options(conv, tf, rep_gelu)
    models = {"gelu_int8": conv.convert(), "gelu_f32": tf.lite.TFLiteConverter.from_keras_model(gelu).convert()}

    x, y = kws_clips(3000, rng)
    kws = build_kws(tf)
    kws.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = kws.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)
    print("kws: training accuracy %.3f" % hist.history["accuracy"][-1])
    stream = streaming_module(tf, kws)
    rep_frames = kws_clips(12, rng, frames=CLIP)[0].reshape(-1, FEAT)
    models["kws_f32"] = convert_stream(tf, stream, rep_frames, False)
    models["kws_int8"] = convert_stream(tf, stream, rep_frames, True)
    for key, name in FILES.items():
        write(args.out_dir / (name + ".tflite"), models[key])
    write_oracle(tf, args.out_dir / "keras_zoo_oracle.npz", models, rng)
    if args.check:
        print("streaming vs clip model: max abs difference %.2e" % check_stream(tf, kws, models["kws_f32"], rng))


if __name__ == "__main__":
    main()
