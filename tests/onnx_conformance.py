"""ONNX's own backend node tests through bake + run (issue 15: conformance).

The `onnx` package generates its backend node tests in memory (onnx.backend.test.case.node:
a one-node model, its inputs and the expected outputs from ONNX's numpy reference). Every
in-scope test is baked and run on one upyflow tier and sorted into:

- passed: bakes, runs, every output equal to onnxruntime's (the project's ONNX oracle) within
  RTOL/ATOL, integers exactly; where onnxruntime cannot run the test, to the test's own expected
  outputs within the test's tolerances (some are written with four decimals);
- unsupported: bake refuses it with one BakeError line (grouped by the line's first words);
- failed: bakes but gives other numbers or fails at run time, or bake raised anything but
  BakeError (a traceback is a bug).

In scope: every input and output a tensor of float32, int8, uint8 or bool (the types a
microcontroller model carries; bool: comparison and logic results, bytes 0/1; shapes come with
the test data). Inputs the model uses as
weights (a Conv's W given as a graph input) are baked as constants with the test's values
when the plain bake refuses a non-constant operand (bake's `constants`, the CLI's --const), as a caller
who knows them would.

Layout: the baked model reads and writes rank-4 tensors NHWC (rank-3 NLC in models with 1-D
convolutions) unless a Transpose consumes the input or makes the output, as the reader's
docstring (upyflow_tools.readers.onnx) states; this module feeds and reads them accordingly.

Run: python tests/onnx_conformance.py [--tier native|pure] [--op Conv] [-v]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

RTOL, ATOL = 1e-5, 1e-6
IN_SCOPE = {1: np.float32, 2: np.uint8, 3: np.int8, 9: np.bool_}  # onnx TensorProto data types


@dataclass
class Outcome:
    name: str
    op: str
    status: str  # passed | unsupported | failed | out_of_scope
    detail: str = ""
    constants: bool = False


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def in_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != "out_of_scope"]

    def per_op(self) -> dict[str, Counter]:
        table: dict[str, Counter] = defaultdict(Counter)
        for o in self.in_scope():
            table[o.op][o.status] += 1
        return dict(sorted(table.items()))

    def reasons(self) -> Counter:
        return Counter(_reason(o.detail) for o in self.in_scope() if o.status == "unsupported")


def _reason(line: str) -> str:
    # group BakeError lines by their shape: names and numbers out
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "X", line)
    return re.sub(r"\d+", "N", line)[:90]


def cases(op: str | None = None):
    """ONNX's backend node test cases (optionally of one operator), generated in memory."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return node.collect_testcases(op) if op else node.collect_testcases()


def _tensor_types(values) -> list[int | None]:
    out = []
    for v in values:
        t = v.type
        out.append(t.tensor_type.elem_type if t.HasField("tensor_type") else None)
    return out


def in_scope(case) -> bool:
    g = case.model.graph
    types = _tensor_types(g.input) + _tensor_types(g.output)
    return bool(g.output) and all(t in IN_SCOPE for t in types) and all(n.domain in ("", "ai.onnx") for n in g.node)


def _device_order(case, value: str, rank: int, is_input: bool) -> tuple[int, ...] | None:
    """The permutation from the ONNX layout to the baked model's, or None (same order)."""
    from fuzz import onnx_perm

    perm = onnx_perm(case.model.graph, value, rank, is_input)
    return None if perm == tuple(range(rank)) else perm


def _constants(case, keep: int) -> dict:
    """Graph inputs after the first `keep` with the test's values (bake's `constants`)."""
    inputs = case.data_sets[0][0]
    return {v.name: np.asarray(x) for v, x in zip(list(case.model.graph.input)[keep:], inputs[keep:])}


def _bake(data: bytes, tmp: str, tier: str, constants: dict | None = None):
    from upyflow_tools.bake import bake
    from upyflow_tools.runner import load_module, model_of

    name = "conf%d" % _bake.count
    _bake.count += 1
    bake("model.onnx", tmp, name=name, data=data, constants=constants)
    return model_of(load_module(os.path.join(tmp, name + ".py")), tier)


_bake.count = 0


def oracle(case, inputs) -> tuple[list, float, float]:
    """Expected outputs and tolerances: onnxruntime's, else the test's own."""
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(case.model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        feeds = {v.name: np.asarray(x) for v, x in zip(case.model.graph.input, inputs)}
        return sess.run(None, feeds), RTOL, ATOL
    except Exception:
        return list(case.data_sets[0][1]), max(RTOL, case.rtol), max(ATOL, case.atol)


def run_case(case, tier: str, tmp: str) -> Outcome:
    from upyflow_tools import BakeError

    op = case.model.graph.node[0].op_type if case.model.graph.node else "?"
    if not in_scope(case):
        return Outcome(case.name, op, "out_of_scope")
    inputs = case.data_sets[0][0]
    n_inputs, constants = len(inputs), False
    data = case.model.SerializeToString()
    try:
        try:
            model = _bake(data, tmp, tier)
        except BakeError as e:
            if n_inputs < 2 or "constant" not in str(e):
                raise
            model, n_inputs, constants = _bake(data, tmp, tier, _constants(case, 1)), 1, True
    except BakeError as e:
        return Outcome(case.name, op, "unsupported", str(e).splitlines()[0])
    except Exception as e:  # a traceback from bake is a bug
        return Outcome(case.name, op, "failed", "bake raised %s: %s" % (type(e).__name__, e))
    expected, rtol, atol = oracle(case, inputs)
    try:
        for i, (v, x) in enumerate(zip(case.model.graph.input, inputs[:n_inputs])):
            x = np.asarray(x)
            perm = _device_order(case, v.name, x.ndim, True)
            model.set_input(i, np.ascontiguousarray(x.transpose(perm) if perm else x).tobytes())
        model.invoke()
        for i, (v, want) in enumerate(zip(case.model.graph.output, expected)):
            want = np.asarray(want)
            got = np.frombuffer(bytes(model.get_output(i)), want.dtype)
            perm = _device_order(case, v.name, want.ndim, False)
            shape = tuple(want.shape[p] for p in perm) if perm else want.shape
            if got.size != want.size:
                return Outcome(
                    case.name, op, "failed", "output %d has %d values, ONNX %d" % (i, got.size, want.size), constants
                )
            got = got.reshape(shape)
            if perm:
                got = got.transpose(np.argsort(perm))
            if want.dtype.kind == "f":
                ok = np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
            else:
                ok = np.array_equal(got, want)
            if not ok:
                err = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
                return Outcome(case.name, op, "failed", "output %d differs (max abs error %g)" % (i, err), constants)
    except Exception as e:
        return Outcome(case.name, op, "failed", "run raised %s: %s" % (type(e).__name__, e), constants)
    return Outcome(case.name, op, "passed", "", constants)


def run_all(tier: str = "native", op: str | None = None, progress=None) -> Summary:
    summary = Summary()
    all_cases = cases(op)
    with tempfile.TemporaryDirectory() as tmp:
        for k, case in enumerate(all_cases):
            summary.outcomes.append(run_case(case, tier, tmp))
            if progress:
                progress(k + 1, len(all_cases))
    return summary


def report(summary: Summary, verbose: bool = False) -> str:
    scope = summary.in_scope()
    lines = [
        "ONNX backend node tests: %d in scope of %d; passed %d, unsupported %d, failed %d "
        "(%.1f%% pass)"
        % (
            len(scope),
            len(summary.outcomes),
            summary.count("passed"),
            summary.count("unsupported"),
            summary.count("failed"),
            100.0 * summary.count("passed") / max(1, len(scope)),
        )
    ]
    lines.append("")
    lines.append("%-28s %6s %6s %6s" % ("operator", "passed", "unsup", "failed"))
    for op, c in summary.per_op().items():
        lines.append("%-28s %6d %6d %6d" % (op, c["passed"], c["unsupported"], c["failed"]))
    lines.append("")
    lines.append("most common reasons a test is unsupported:")
    for reason, n in summary.reasons().most_common(12):
        lines.append("%5d  %s" % (n, reason))
    failed = [o for o in scope if o.status == "failed"]
    if failed:
        lines.append("")
        lines.append("failed:")
        lines += ["  %s: %s" % (o.name, o.detail) for o in failed]
    if verbose:
        lines.append("")
        lines += ["  %-50s %-12s %s" % (o.name, o.status, o.detail) for o in scope]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="native", choices=["native", "viper", "pure"])
    ap.add_argument("--op", help="only this ONNX operator's tests (e.g. Conv)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every in-scope test")
    args = ap.parse_args(argv)

    def progress(k, n):
        if sys.stderr.isatty():
            print("\r%d/%d" % (k, n), end="", file=sys.stderr, flush=True)

    summary = run_all(args.tier, args.op, progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(report(summary, args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
