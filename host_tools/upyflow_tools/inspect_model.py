"""`upyflow inspect`: what a model needs from upyflow and from the board, as text, JSON or a picture.

Unlike bake, inspect does not stop at the first problem: every operator is marked supported
or not (with the reason), so it serves as a compatibility check before any training is redone.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from . import BakeError
from .bake import BakeResult, compile_model, default_name, read_model
from .ir import Graph, Tensor
from .planner import Buffer

OK, NO = "\u2713", "\u2717"


@dataclass
class OpCheck:
    index: int
    kind: str
    supported: bool
    reason: str = ""                          # why not, for an unsupported op
    kernels: list[str] = field(default_factory=list)
    output: str = ""                          # dtype and shape of its first output


def check_ops(graph: Graph) -> list[OpCheck]:
    """Each operator of the graph lowered on its own: supported, or the reason it is not."""
    from .fold import fold_constants
    from .lower import LOWERINGS, TYPES
    from .lower.core import check_op
    from .passes import LAYOUT_ONLY, alias_layout_ops
    g = copy.deepcopy(graph)
    try:
        fold_constants(g)         # shape arithmetic on constants runs at bake time
        alias_layout_ops(g)       # layout-only ops (RESHAPE...) need no kernel
    except BakeError:
        g = copy.deepcopy(graph)
    kept = {id(op) for op in g.ops}
    checks = []
    for i, op in enumerate(copy.deepcopy(graph).ops):
        out = graph.tensors[op.outputs[0]] if op.outputs and 0 <= op.outputs[0] < len(graph.tensors) else None
        c = OpCheck(i, op.kind, True, output=_tensor_type(out) if out else "?")
        target = next((o for o in g.ops if id(o) in kept and _same(o, op)), None)
        if target is None:
            c.kernels = ["(no kernel: shares its input's bytes)" if op.kind in LAYOUT_ONLY
                         else "(no kernel: shares the variable's state bytes)"
                         if op.options.get("shares_state") else "(folded at bake time)"]
        elif op.kind not in LOWERINGS:
            c.supported, c.reason = False, "operator not supported"
        else:
            try:
                check_op(g, target)
                c.kernels = [call.kernel for call in LOWERINGS[op.kind](g, target)]
            except BakeError as e:
                c.supported, c.reason = False, str(e)
            except Exception as e:   # a graph the lowering cannot even read: still a no
                c.supported, c.reason = False, "%s (%s)" % (TYPES.get(op.kind, ""), e)
        checks.append(c)
    return checks


def _same(a, b) -> bool:
    return a.kind == b.kind and a.inputs == b.inputs and a.outputs == b.outputs


def _tensor_type(t: Tensor) -> str:
    return "%s %s" % (t.dtype, "x".join(map(str, t.shape)) or "scalar")


def io_info(graph: Graph, ids: list[int], layouts: list[str] | None = None) -> list[dict[str, Any]]:
    """Each input or output: name, dtype, shape, byte order on the board (`layouts`, from the
    reader; a rank-4 tensor without one is NHWC), bytes and quantization."""
    out = []
    for k, t in enumerate(graph.tensors[i] for i in ids):
        layout = layouts[k] if layouts and k < len(layouts) else "NHWC" if len(t.shape) == 4 else ""
        out.append({"index": k, "name": t.name, "dtype": t.dtype, "shape": list(t.shape),
                    "layout": layout,
                    "bytes": t.nbytes, "scale": t.sc if t.scale else None,
                    "zero_point": t.zp if t.scale else None})
    return out


def _formula(io: dict[str, Any], direction: str) -> str:
    if io["scale"] is None:
        return "float32 values" if io["dtype"] == "f32" else io["dtype"] + " values"
    zp = io["zero_point"]
    if direction == "in":
        return "q = round(x / %.6g) %s %d" % (io["scale"], "-" if zp < 0 else "+", abs(zp))
    return "x = %.6g * (q %s %d)" % (io["scale"], "+" if zp < 0 else "-", abs(zp))


def snippet(name: str, inputs: list[dict], outputs: list[dict]) -> list[str]:
    """Two lines of board code filling input 0 and reading output 0."""
    i, o = inputs[0], outputs[0]
    return ["m = upyflow.load(%r); m.input_buffer(0)[:] = data   # %d bytes, %s %s, %s"
            % (name, i["bytes"], i["dtype"], "x".join(map(str, i["shape"])), _formula(i, "in")),
            "m.invoke(); out = m.get_output(0)   # %d bytes, %s %s, %s"
            % (o["bytes"], o["dtype"], "x".join(map(str, o["shape"])), _formula(o, "out"))]


def inspect_model(path: str, tflm: bool = True, input_layout: str | None = None) -> dict[str, Any]:
    """Everything inspect reports, as plain data (the --json output); `input_layout` as bake's
    (ONNX only)."""
    graph = read_model(path, input_layout=input_layout) if input_layout else read_model(path)
    name = default_name(path)
    checks = check_ops(graph)
    info: dict[str, Any] = {"model": path, "name": name, "bakes": True, "error": None, "notes": [],
                            "inputs": io_info(graph, graph.inputs, graph.input_layouts),
                            "outputs": io_info(graph, graph.outputs, graph.output_layouts)}
    result: BakeResult | None = None
    try:
        result = compile_model(path, input_layout=input_layout)
    except BakeError as e:
        info["bakes"], info["error"] = False, str(e)
    if result is not None:
        # Kernels as the whole bake produced them (folding may differ from op-by-op).
        by_op: dict[int, list[str]] = {}
        for call in result.calls:
            by_op.setdefault(call.op_index, []).append(call.kernel)
        info["notes"] = list(result.graph.notes)
        info["inputs"] = io_info(result.graph, result.graph.inputs, result.graph.input_layouts)
        info["outputs"] = io_info(result.graph, result.graph.outputs, result.graph.output_layouts)
    info["ops"] = [{"index": c.index, "kind": c.kind, "supported": c.supported, "reason": c.reason,
                    "kernels": c.kernels, "output": c.output} for c in checks]
    info["snippet"] = snippet(name, info["inputs"], info["outputs"]) if info["inputs"] and info["outputs"] else []
    if result is not None:
        g, b = result.graph, result.baked
        info["calls"] = [{"index": i, "kernel": c.kernel, "op": g.ops[c.op_index].kind,
                          "weight_bytes": sum(g.tensors[t].nbytes for t in c.tensors if g.tensors[t].is_const)}
                         for i, c in enumerate(result.calls)]
        # the tensors, and the optional scratch given arena bytes (planner.place_scratch)
        users = {t: [i for i, c in enumerate(result.calls) if t in c.tensors] for t in result.scratch}
        bufs = list(result.buffers) + [Buffer(t, g.tensors[t].nbytes, users[t][0], users[t][-1], offset)
                                       for t, offset in result.scratch.items() if g.tensors[t].nbytes]
        info["plan"] = [{"tensor": g.tensors[buf.tensor].name, "dtype": g.tensors[buf.tensor].dtype,
                         "shape": list(g.tensors[buf.tensor].shape), "offset": buf.offset,
                         "bytes": buf.size, "first_call": buf.first, "last_call": buf.last,
                         "state": g.tensors[buf.tensor].variable, "scratch": buf.tensor in result.scratch}
                        for buf in sorted(bufs, key=lambda x: (x.offset, x.first))]
        info["arena_bytes"] = b.arena_size
        info["state_bytes"] = result.state_bytes
        info["weights_bytes"] = len(b.weights)
    info["tflm_head_arena_bytes"] = None
    info["tflm_note"] = None
    if tflm and not path.lower().endswith(".onnx"):
        info["tflm_head_arena_bytes"], info["tflm_note"] = _tflm_head(path)
    return info


def _tflm_head(path: str) -> tuple[int | None, str | None]:
    try:
        import tflite_micro  # noqa: F401
    except ImportError:
        return None, "TFLite Micro's arena needs its interpreter: pip install tflite-micro"
    from .tflm import head_arena_bytes
    head = head_arena_bytes(path)
    return head, None if head is not None else "the TFLite Micro interpreter did not load this model"


def inspect_text(info: dict[str, Any]) -> str:
    ops = info["ops"]
    bad = [o for o in ops if not o["supported"]]
    lines = ["model %s: %d operators, %s" % (info["model"], len(ops),
                                              "all supported" if not bad else "%d not supported" % len(bad)), ""]
    lines += ["note: " + n for n in info["notes"]] + ([""] if info["notes"] else [])
    lines.append("operators:")
    for o in ops:
        mark = OK if o["supported"] else NO
        detail = ", ".join(o["kernels"]) if o["supported"] else o["reason"]
        lines.append("  %s %3d %-28s -> %-20s %s" % (mark, o["index"], o["kind"], o["output"], detail))
    for what in ("inputs", "outputs"):
        lines += ["", what + ":"]
        for io in info[what]:
            q = "" if io["scale"] is None else "  scale %.6g  zero point %d" % (io["scale"], io["zero_point"])
            lines.append("  %d %-6s %-16s %-4s %6d B%s  %s" % (
                io["index"], io["dtype"], "x".join(map(str, io["shape"])), io["layout"], io["bytes"], q, io["name"]))
    if info["snippet"]:
        lines += ["", "on the board:"] + ["  " + s for s in info["snippet"]]
    if not info["bakes"]:
        lines += ["", "bake: " + info["error"]]
        return "\n".join(lines)
    lines += ["", "arena plan (offset, bytes, live calls, tensor):"]
    for p in info["plan"]:
        lines.append("  %7d %7d  %3d..%-3d %s %s %s%s" % (p["offset"], p["bytes"], p["first_call"], p["last_call"],
                                                         p["dtype"], p["shape"], p["tensor"],
                                                         " (state)" if p["state"] else
                                                         " (scratch)" if p["scratch"] else ""))
    lines += ["", "weights: %d bytes" % info["weights_bytes"],
              "arena:   %d bytes (upyflow)%s" % (info["arena_bytes"], " = %d activations + %d state" % (
                  info["arena_bytes"] - info["state_bytes"], info["state_bytes"]) if info["state_bytes"] else "")]
    if info["tflm_head_arena_bytes"] is not None:
        lines.append("         %d bytes (TFLite Micro head arena)" % info["tflm_head_arena_bytes"])
    elif info["tflm_note"]:
        lines.append("         TFLite Micro's figure: %s" % info["tflm_note"])
    return "\n".join(lines)


def plot_plan(info: dict[str, Any], png: str) -> str:
    """The memory plan as a picture: each arena tensor a box over the calls it lives
    across (x) and its bytes in the arena (y), state tensors hatched; below, each
    call's weight bytes."""
    if not info["bakes"]:
        raise BakeError("no memory plan to draw: the model does not bake (%s)" % info["error"])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        raise BakeError("--plot needs matplotlib: pip install 'upyflow[plot]' (or matplotlib)") from None
    calls, plan = info["calls"], info["plan"]
    n = max(len(calls), 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, min(14, n * 0.35)), 8), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    palette = [plt.get_cmap("tab20")(k) for k in range(20)]
    for k, p in enumerate(plan):
        x0, width = p["first_call"] - 0.4, p["last_call"] - p["first_call"] + 0.8
        height = max(p["bytes"], info["arena_bytes"] * 0.006)   # tiny tensors stay visible
        top.add_patch(Rectangle((x0, p["offset"]), width, height, facecolor=palette[k % len(palette)],
                                edgecolor="black", linewidth=0.5, hatch="//" if p["state"] else None))
        if p["bytes"] >= info["arena_bytes"] * 0.06:
            label = "%d B" % p["bytes"]
            if width >= 2.5:   # room for the layer's name too
                label = _layer_name(p["tensor"]) + "\n" + label
            top.text(x0 + width / 2, p["offset"] + p["bytes"] / 2, label, ha="center", va="center", fontsize=6)
    top.set_xlim(-0.6, n + 0.6)
    top.set_ylim(0, max(info["arena_bytes"], info["tflm_head_arena_bytes"] or 0, 1) * 1.05)
    top.axhline(info["arena_bytes"], color="black", linestyle="--", linewidth=0.8)
    title = "%s: arena %d B" % (info["name"], info["arena_bytes"])
    if info["tflm_head_arena_bytes"]:
        top.axhline(info["tflm_head_arena_bytes"], color="red", linestyle=":", linewidth=0.8)
        title += " (TFLite Micro head arena %d B, red)" % info["tflm_head_arena_bytes"]
    top.set_title(title)
    top.set_ylabel("arena offset (bytes)")
    bottom.bar([c["index"] for c in calls], [c["weight_bytes"] for c in calls], color="#888")
    bottom.set_ylabel("weight bytes")
    bottom.set_xlabel("kernel call")
    if n <= 48:      # beyond that the names would be unreadable: indices only
        bottom.set_xticks([c["index"] for c in calls])
        bottom.set_xticklabels([c["kernel"] for c in calls], rotation=90, fontsize=6)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def _layer_name(tensor: str) -> str:
    """A short label: the layer's name from a tensor name such as .../Conv2d_1/Relu6/band."""
    parts = [p for p in tensor.split("/") if p != "band" and not p.startswith("rows")]
    band = " (band)" if tensor.endswith("/band") else ""
    return (parts[-2] if len(parts) > 1 else parts[-1])[-22:] + band
