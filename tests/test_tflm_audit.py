"""The TFLM kernel audit (tflm_audit.py) as a test: every generated single-operator model
(operator x input type x broadcast variant) that the TFLM interpreter runs either gives TFLM's
bytes on the pure and native tiers (float32 within 1e-5 relative) or is refused at bake time
with one line, and only the (operator, type) pairs listed in GAPS may be refused. A model that
bakes must never fail at load or give other numbers; a model TFLM refuses may bake or not.
"""

from __future__ import annotations

import pytest
from tflm_audit import EXACT_F32, cases, run_case

# (operator, type) pairs the TFLM interpreter runs and upyflow refuses (the bake says so): the
# audit's known gaps. Logical ops on non-bool operands are refused on purpose: TFLM reads the
# bytes as C++ bools (undefined beyond 0 and 1).
GAPS = {
    ("GREATER", "int16"),
}
GAPS |= {(op, t) for op in ("LOGICAL_AND", "LOGICAL_OR") for t in ("int8", "int16", "int32", "float32", "uint8")}

CASES = [(op, dt, v, b) for op, dt, v, b in cases()]


@pytest.mark.parametrize(
    "op,dt,variant,builder", CASES, ids=["%s-%s%s" % (op, dt, "-" + v if v else "") for op, dt, v, _ in CASES]
)
def test_tflm_audit(op, dt, variant, builder, tmp_path):
    r = run_case(builder, tmp_path, "audit", op in EXACT_F32)
    assert not r["tflm"].startswith("unbuildable"), r
    if r["tflm"] != "yes":
        # TFLM refuses: upyflow may refuse too, or bake; it must not fail at load
        assert not r["pure"].startswith("run error") or "(TFLM" in r["pure"], r
        return
    for tier in ("pure", "native"):
        if r[tier].startswith("refused"):
            assert (op, dt) in GAPS, "%s %s %s: a new refusal: %s" % (op, dt, variant, r[tier])
        else:
            assert r[tier] == "ok", "%s %s %s (%s): %s" % (op, dt, variant, tier, r[tier])


def test_tflm_audit_micropython(mpy_tier, tmp_path):
    """Every audit case that TFLM runs and upyflow bakes, in one MicroPython process per tier
    (pure, viper, natmod): TFLM's bytes (float32 within 1e-5 relative)."""
    import numpy as np

    from harness import bake_model, run_micropython, run_tflm, sizes_of
    from upyflow_tools import BakeError

    baked = {}
    for k, (op, dt, variant, builder) in enumerate(CASES):
        model, sets = builder()
        try:
            want = [run_tflm(model, s) for s in sets]
        except Exception:
            continue  # TFLM refuses it
        try:
            _, name, _ = bake_model(model, tmp_path, "au%d" % k, mpy=True)
        except BakeError:
            continue
        baked[name] = ("%s-%s%s" % (op, dt, "-" + variant if variant else ""), sets, want)
    assert len(baked) > 300
    got, _ = run_micropython(
        mpy_tier,
        str(tmp_path),
        [(name, sets) for name, (_, sets, _) in baked.items()],
        {name: sizes_of(want) for name, (_, _, want) in baked.items()},
        "8M",
    )
    bad = []
    for name, (cid, _, want) in baked.items():
        for w_outs, g_outs in zip(want, got[name]):
            for w, g in zip(w_outs, g_outs):
                g = np.frombuffer(g, w.dtype).reshape(w.shape)
                same = (
                    np.allclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True)
                    if w.dtype == np.float32
                    else (np.array_equal(g, w))
                )
                if not same:
                    bad.append(cid)
    assert not bad, "%d cases differ from TFLM: %s" % (len(bad), sorted(set(bad)))
