"""ONNX's backend node tests (onnx.backend.test.case.node) through bake + run: nothing that
bakes may give other numbers than onnxruntime, and bake never raises anything but BakeError.
tests/onnx_conformance.py sorts them and prints the per-operator table (README: pass rate)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx_conformance  # noqa: E402

import upyflow  # noqa: E402


@pytest.fixture(scope="module")
def native_summary():
    return onnx_conformance.run_all("native")


@pytest.mark.parametrize("tier", [t for t in ("native", "pure") if upyflow.dispatch.available(t)])
def test_nothing_that_bakes_gives_other_numbers(tier, native_summary):
    summary = native_summary if tier == "native" else onnx_conformance.run_all(tier)
    failed = [o for o in summary.in_scope() if o.status == "failed"]
    assert not failed, "\n".join("%s: %s" % (o.name, o.detail) for o in failed)
    # the suite really ran: the operators upyflow reads pass their tests
    passed_ops = {o.op for o in summary.in_scope() if o.status == "passed"}
    assert {"Conv", "Relu", "MaxPool", "Add", "Gemm", "Softmax"} <= passed_ops


def test_readme_states_the_pass_rate(native_summary):
    from harness import ROOT

    text = (ROOT / "README.md").read_text()
    scope, passed = len(native_summary.in_scope()), native_summary.count("passed")
    line = "%d of %d in-scope ONNX backend node tests pass" % (passed, scope)
    assert line in text, "README should say: %r (python tests/onnx_conformance.py)" % line
