"""Patch-based execution of a CNN's first stage (as MCUNetV2 does), to cut the arena.

The first layers of a CNN hold the largest activations, and a plain schedule keeps two of
them (a layer's input and output) whole at once. Here a chain of row-local layers
(convolutions, depthwise convolutions, pools) is run in bands of output rows: for each band
of the chain's last output, every layer computes only the rows the next one needs, into a
small buffer reused by every band. Overlapping rows are recomputed (a few percent of the
chain's work); only the chain's input and output exist whole.

No kernel changes: NHWC rows are contiguous, so a band of rows is a byte range, and each
band call is the layer's own kernel with its height, padding and tensors cut to the band.
Every output value sees the same inputs and constants as in the plain schedule, so results
are byte-identical. The bake picks the chain and band height that minimise the arena,
within a recomputation budget.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from upyflow.calls import rows_needed
from upyflow.model import NO_DILATION

from . import kernel_spec
from .ir import Graph, Tensor
from .lower import Call


# Row-local kernels: positions of the input/output tensors and of in_h, out_h, k_h, s_h,
# d_h (None: no dilation) and pad_h among the params, from kernel_spec.
@dataclass(frozen=True)
class RowGeometry:
    x: int
    out: int
    in_h: int
    out_h: int
    k_h: int
    s_h: int
    d_h: int | None
    pad_h: int


def _row_geometry(kernel: str) -> RowGeometry:
    k = kernel_spec.get(kernel)
    names = [p.name for p in k.params]
    return RowGeometry(k.tensor_index("x"), k.tensor_index("out"), names.index("in_h"), names.index("out_h"),
                       names.index("k_h"), names.index("s_h"), names.index("d_h") if "d_h" in names else None,
                       names.index("pad_h"))


ROW_LOCAL = {name: _row_geometry(name) for name in (
    "conv2d_s8", "depthwise_conv2d_s8", "conv2d_f32", "depthwise_conv2d_f32", "conv2d_s16",
    "depthwise_conv2d_s16", "conv2d_s8_ort", "depthwise_conv2d_s8_ort",
    "avg_pool2d_s8", "max_pool2d_s8", "avg_pool2d_f32", "max_pool2d_f32")}
# Recomputed work the bake accepts for a smaller arena, as a fraction of the whole model's.
MAX_EXTRA_WORK = 0.10
# RAM a board spends per kernel call besides the arena, so banding pays for its calls: the
# native tier keeps one band-loop record per stage whatever its bands (the walker cuts each
# band itself); the viper and pure tiers expand it into a call tuple and views per band call
# (~450 B, measured on the 64-bit unix port). That figure: a banded model must still load on
# every tier (person_detect at 190 KB on viper).
CALL_BYTES = 450
BAND_HEIGHTS = (1, 2, 3, 4, 6, 8, 12, 16)


@dataclass
class Stage:
    start: int            # first call of the chain
    end: int              # one past its last call
    band: int             # output rows of the chain's last layer per band


@dataclass
class BandLoop:
    """A stage as the baked module holds it: one band-loop record that the device runs
    band by band (upyflow.model.band_rows), instead of a record per band call."""
    first: int            # index of its first band call in the banded calls
    count: int            # band calls it stands for
    band: int
    height: int           # output rows of the chain's last layer
    # per layer: the call on whole tensors (the chain's input and output, the band
    # buffers), its RowGeometry, and bytes per input and output row
    layers: list[tuple[Call, RowGeometry, int, int]]


def _geometry(call: Call) -> RowGeometry | None:
    return ROW_LOCAL.get(call.kernel)


def _row_local(call: Call) -> RowGeometry:
    """The geometry of a call known to be row-local (one of a chain)."""
    return ROW_LOCAL[call.kernel]


def chains(graph: Graph, calls: list[Call], alias: dict[int, int]) -> list[tuple[int, int]]:
    """Maximal runs of row-local calls, each reading the previous one's output and nothing
    else reading that output (it then never needs to exist whole)."""
    def storage(t: int) -> int:
        return alias.get(t, t)

    readers: dict[int, int] = {}
    for c in calls:
        for t in c.tensors:
            readers[storage(t)] = readers.get(storage(t), 0) + 1
    outputs = {storage(t) for t in graph.outputs}
    def eligible(c: Call) -> bool:   # row-local, NHWC, and not already run in bands
        g = _geometry(c)
        return g is not None and len(graph.tensors[c.tensors[g.x]].shape) == 4 \
            and not any(t in graph.views for t in c.tensors)

    runs, i = [], 0
    while i < len(calls):
        if not eligible(calls[i]):
            i += 1
            continue
        j = i + 1
        while j < len(calls):
            if not eligible(calls[j]):
                break
            g_prev, g = _row_local(calls[j - 1]), _row_local(calls[j])
            link = storage(calls[j - 1].tensors[g_prev.out])
            if storage(calls[j].tensors[g.x]) != link or readers.get(link) != 2 or link in outputs:
                break
            j += 1
        if j - i >= 2:
            runs.append((i, j))
        i = j
    return runs


def _rows_needed(call: Call, lo: int, hi: int) -> tuple[int, int]:
    """Input rows [a, b) that output rows [lo, hi) of a row-local call read (the device's
    band loop computes them with the same function)."""
    return rows_needed(call.params, geometry_fields(_row_local(call)), lo, hi)


def geometry_fields(g: RowGeometry) -> tuple[int, ...]:
    """g as a band-loop record's geometry: positions of x, out, then of in_h, out_h, k_h,
    s_h, d_h (NO_DILATION: none) and pad_h among the params."""
    return (g.x, g.out, g.in_h, g.out_h, g.k_h, g.s_h, NO_DILATION if g.d_h is None else g.d_h, g.pad_h)


def _band_rows(calls: list[Call], start: int, end: int, band: int) -> list[list[tuple[int, int]]]:
    """Per band, per layer of the chain: the output rows [lo, hi) it computes."""
    last = calls[end - 1]
    height = last.params[_row_local(last).out_h]
    bands = []
    for r0 in range(0, height, band):
        rows = [(r0, min(height, r0 + band))]
        for k in range(end - 1, start, -1):
            rows.append(_rows_needed(calls[k], *rows[-1]))
        bands.append(rows[::-1])
    return bands


def work(call: Call) -> int:
    """Multiply-accumulates (or pool taps) of a call, for the recomputation budget."""
    g = _geometry(call)
    if g is None:
        return 0
    a = call.named()
    if "c" in a:     # a pool: out_h * out_w * channels * k_h * k_w
        return a["out_h"] * a["out_w"] * a["c"] * a["k_h"] * a["k_w"]
    # out_h * out_w * k_h * k_w * in_c * (out_c, or the depth multiplier)
    return a["out_h"] * a["out_w"] * a["k_h"] * a["k_w"] * a["in_c"] * a.get("out_c", a.get("depth_mult"))


def apply(graph: Graph, calls: list[Call], start: int, end: int, band: int) -> tuple[list[Call], BandLoop]:
    """The calls with calls[start:end] run band by band, and the band loop that stands for
    those band calls in the baked module; adds band buffers and views to graph."""
    chain = calls[start:end]
    bands = _band_rows(calls, start, end, band)
    # One buffer per intermediate tensor, as tall as its tallest band.
    buffers = []
    for k in range(len(chain) - 1):
        g = _row_local(chain[k])
        t = graph.tensors[chain[k].tensors[g.out]]
        tallest = max(b[k][1] - b[k][0] for b in bands)
        buffers.append(graph.add_tensor(Tensor(t.name + "/band", (1, tallest) + tuple(t.shape[2:]), t.dtype,
                                               list(t.scale), list(t.zero_point))))
    out = []
    for rows in bands:
        for k, call in enumerate(chain):
            g, p = _row_local(call), list(call.params)
            lo, hi = rows[k]
            a, b = _rows_needed(call, lo, hi)
            tensors = list(call.tensors)
            if k == 0:
                tensors[g.x] = graph.add_view(call.tensors[g.x], a, b)
            else:
                tensors[g.x] = graph.add_view(buffers[k - 1], 0, b - a)
            if k == len(chain) - 1:
                tensors[g.out] = graph.add_view(call.tensors[g.out], lo, hi)
            else:
                tensors[g.out] = graph.add_view(buffers[k], 0, hi - lo)
            # the input slice starts at global row a; the kernel's padding shifts to match
            p[g.pad_h] = a - (lo * p[g.s_h] - p[g.pad_h])
            p[g.in_h], p[g.out_h] = b - a, hi - lo
            out.append(Call(call.kernel, tensors, p, call.op_index))
    layers = []
    for k, call in enumerate(chain):   # each layer on whole tensors, as the loop's template
        g = _row_local(call)
        tensors = list(call.tensors)
        if k > 0:
            tensors[g.x] = buffers[k - 1]
        if k < len(chain) - 1:
            tensors[g.out] = buffers[k]
        x, y = graph.tensors[call.tensors[g.x]], graph.tensors[call.tensors[g.out]]
        layers.append((Call(call.kernel, tensors, list(call.params), call.op_index), g,
                       x.nbytes // x.shape[1], y.nbytes // y.shape[1]))
    height = chain[-1].params[_row_local(chain[-1]).out_h]
    return calls[:start] + out + calls[end:], BandLoop(start, len(out), band, height, layers)


MAX_STAGE_CALLS = 6


def build(graph: Graph, calls: list[Call], stages: list[Stage]) -> tuple[list[Call], list[int], list[BandLoop]]:
    """calls with every stage run in bands (stages over disjoint ranges of calls), for
    each resulting call the index of the call it came from, and the band loops (in order)."""
    origin = list(range(len(calls)))
    out = list(calls)
    loops: list[BandLoop] = []
    for st in sorted(stages, key=lambda s: -s.start):   # later stages first: indices stay valid
        banded, loop = apply(graph, out, st.start, st.end, st.band)
        n = len(banded) - len(out) + (st.end - st.start)
        origin[st.start:st.end] = [st.start + k % (st.end - st.start) for k in range(n)]
        out = banded
        loops.insert(0, loop)
    shift = 0
    for loop in loops:   # earlier loops grew the list: where each starts in the final calls
        loop.first += shift
        shift += loop.count - len(loop.layers)
    return out, origin, loops


def schedule(graph: Graph, calls: list[Call], alias: dict[int, int], plan,
             steer=()) -> tuple[list[Call], list[Stage], list[BandLoop]]:
    """Choose the stages (_search) and run them in bands. plan(calls) -> (arena bytes, live
    bytes per call). steer: other planners (the same interface) the greedy search also runs
    with: a planner that places some configurations worse can lead it past a plateau of
    plan's (person_detect: two layers' peaks of equal size); the stages with the smallest
    key under plan win. Returns the calls to run, the stages and their band loops."""
    if not chains(graph, calls, alias):   # nothing to run in bands (most models but CNNs)
        return calls, [], []
    total = sum(work(c) for c in calls) or 1
    options = [_search(graph, calls, alias, p) for p in (plan, *steer)]
    stages = min(options, key=lambda st: _evaluate(graph, calls, st, plan, total)[0][:2])
    banded, _, loops = build(graph, calls, stages)
    return banded, stages, loops


def _evaluate(graph: Graph, calls: list[Call], stages: list[Stage], plan, total: int):
    """(arena + the calls' CALL_BYTES, extra work, live bytes per call, largest first), and
    the call the peak falls in (an index into calls)."""
    n_tensors = len(graph.tensors)
    banded, origin, _ = build(graph, calls, stages)
    extra = (sum(work(c) for c in banded) - total) / total
    arena, live = plan(banded)
    for t in range(n_tensors, len(graph.tensors)):   # an evaluation leaves no trace
        graph.views.pop(t, None)
    del graph.tensors[n_tensors:]
    peak = max(range(len(live)), key=lambda i: live[i])
    return (arena + CALL_BYTES * len(banded), extra, sorted(live, reverse=True)), \
        origin[min(peak, len(origin) - 1)]


def _search(graph: Graph, calls: list[Call], alias: dict[int, int], plan) -> list[Stage]:
    """Greedily add (or swap in) the stage that lowers the arena most (ties: less
    recomputation, then lower next peaks of the live bytes), re-tuning every stage's band
    after each step, within MAX_EXTRA_WORK; then drop stages the arena does not need and
    make bands as tall (less recomputation) as the arena allows."""
    total = sum(work(c) for c in calls) or 1
    runs = chains(graph, calls, alias)

    def evaluate(stages: list[Stage]):
        return _evaluate(graph, calls, stages, plan, total)

    def bands(st: Stage) -> list[int]:
        return [b for b in BAND_HEIGHTS if b < calls[st.end - 1].params[_row_local(calls[st.end - 1]).out_h]]

    def retune(stages: list[Stage], best):
        import itertools
        choices = [bands(st) for st in stages]
        if math.prod(len(c) for c in choices) <= 256:     # few stages: every combination
            for combo in itertools.product(*choices):
                trial = [Stage(st.start, st.end, b) for st, b in zip(stages, combo)]
                key, at = evaluate(trial)
                if key[1] <= MAX_EXTRA_WORK and key < best[0]:
                    best = (key, at)
                    for st, b in zip(stages, combo):
                        st.band = b
            return best
        improved = True
        while improved:
            improved = False
            for st in stages:
                for band in bands(st):
                    old, st.band = st.band, band
                    key, at = evaluate(stages)
                    if key[1] <= MAX_EXTRA_WORK and key < best[0]:
                        best, improved = (key, at), True
                    else:
                        st.band = old
        return best

    stages: list[Stage] = []
    best = evaluate(stages)
    while True:
        found = None
        peak_at = best[1]
        for start, stop in runs:
            for first in range(max(start, peak_at - MAX_STAGE_CALLS + 1), min(stop, peak_at + 2)):
                for end in range(max(first + 2, peak_at), min(stop, first + MAX_STAGE_CALLS) + 1):
                    # a new stage replaces the ones it overlaps
                    kept = [Stage(st.start, st.end, st.band) for st in stages if st.end <= first or end <= st.start]
                    for band in bands(Stage(first, end, 1)):
                        trial = kept + [Stage(first, end, band)]
                        key, at = evaluate(trial)
                        if key[1] <= MAX_EXTRA_WORK and key < (found or best)[0]:
                            found = (key, at, trial)
        if found is None:
            break
        stages = found[2]
        best = retune(stages, found[:2])
    for st in list(stages):      # a stage the arena does not need only costs time
        rest = [s for s in stages if s is not st]
        if evaluate(rest)[0][0] <= best[0][0]:
            stages = rest
            best = evaluate(stages)
    for st in stages:            # taller bands recompute less: the tallest that costs no arena
        for band in sorted(bands(st), reverse=True):
            if band <= st.band:
                break
            old, st.band = st.band, band
            if evaluate(stages)[0][0] > best[0][0]:
                st.band = old
            else:
                break
    return stages


def extra_work(plain: list[Call], banded: list[Call]) -> float:
    """Work the banded calls recompute, as a fraction of the plain schedule's."""
    total = sum(work(c) for c in plain) or 1
    return (sum(work(c) for c in banded) - total) / total


def arena_and_live(graph: Graph, calls: list[Call], alias: dict[int, int],
                   orders=None) -> tuple[int, list[int]]:
    """The planner's arena for these calls (placed in those orders: planner.ORDERS by
    default), and the bytes live at each call."""
    from .planner import ORDERS, plan
    _, arena, buffers = plan(graph, calls, alias, orders or ORDERS)
    live = [0] * (len(calls) + 1)
    for b in buffers:
        for i in range(b.first, b.last + 1):
            live[i] += b.size
    return arena, live



def describe(graph: Graph, calls: list[Call], stages: list[Stage], plain_arena: int, arena: int,
             extra: float) -> str:
    """The bake report's lines on banding."""
    lines = ["patch-based schedule: arena %d -> %d bytes, %.1f%% more arithmetic (recomputed rows)"
             % (plain_arena, arena, 100 * extra)]
    for st in sorted(stages, key=lambda s: s.start):
        names = [graph.tensors[calls[k].tensors[_row_local(calls[k]).out]].name for k in (st.start, st.end - 1)]
        short = ["/".join(n.split("/")[-2:]) for n in names]
        lines.append("  %d layers (%s ... %s) in bands of %d output rows"
                     % (st.end - st.start, short[0], short[1], st.band))
    return "\n".join(lines)
