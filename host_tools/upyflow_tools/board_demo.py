"""The host side that the board examples share (examples/keyword, examples/person_detection):
bake and deploy with a short log, run the board script on each input, print the board's
scores beside TFLite Micro's for the same inputs, and end with one error line (exit 2) for a
missing input or a model that does not bake. The board scripts themselves stay standalone
files that users copy."""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence

import numpy as np

from . import BakeError
from .bake import bake
from .deploy import Board, deploy
from .tflm import run
from .vboard import serial_port


def missing_inputs(paths: list[str], what: str) -> bool:
    """Whether any of paths is missing, said on stderr (what: those files, read from ../shared)."""
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print("missing: %s (%s live in ../shared beside the repo)" % (", ".join(missing), what), file=sys.stderr)
    return bool(missing)


def exit_status(run: Callable[[], int]) -> int:
    """run()'s exit status; 2 after one error line for a model that does not bake or a bad input file."""
    try:
        return run()
    except (BakeError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


def on_board(args, inputs: list[str], what: str, run: Callable[[str], int]) -> int:
    """An example's main once its arguments are parsed: exit 2 if any of inputs is missing
    (what: those files), else run(port) on the board that --port or --virtual chose."""
    if missing_inputs(inputs, what):
        return 2
    with serial_port(args.port, args.virtual) as port:
        return exit_status(lambda: run(port))


def deploy_log(verbose: bool) -> Callable[[str], None]:
    """deploy's log: its summary lines, and the per-file ones ("[...") only when verbose."""
    def log(line: str) -> None:
        if verbose or not line.startswith("["):
            print(line)
    return log


def bake_and_deploy(model: str, outdir: str, name: str, how: str, port: str, tool: str, verbose: bool,
                    **options) -> Board:
    """Bake model into outdir/name.mpy (how: its options in words for the log), deploy it with
    the runtime, and return the board."""
    print("baking %s -> %s (%s)" % (os.path.relpath(model), os.path.relpath(outdir), how))
    bake(model, outdir, name=name, mpy=True, **options)
    deploy(outdir, port, tool, log=deploy_log(verbose))
    return Board(port, tool)


def classify_each(board: Board, module: str, names: list[str], call: str = "classify") -> str:
    """What the board prints running module.call(name) for each name, which returns (scores,
    label, invoke us, more...): a line "RESULT name score... label us more..." each, then a
    line "TIER tier" of module.model's kernel tier. On a clean heap: the transfers leave garbage."""
    board.soft_reset()
    return board.exec("import %s\nfor p in %r:\n    r = %s.%s(p)\n"
                      "    print('RESULT', p, ' '.join(str(v) for v in r[0]), *r[1:])\n"
                      "print('TIER', %s.model.tier)\n" % (module, names, module, call, module))


def board_results(out: str, n_scores: int) -> dict[str, tuple[list[int], str, int, list[str]]]:
    """The board's lines "RESULT name score... label us [more...]": per name, its n_scores
    scores, label, invoke microseconds and any further fields."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= n_scores + 4 and parts[0] == "RESULT":
            n = n_scores + 2
            found[parts[1]] = ([int(v) for v in parts[2:n]], parts[n], int(parts[n + 1]), parts[n + 2:])
    return found


def scores_beside_tflm(model: str, labels: Sequence[str], inputs: list[tuple[str, np.ndarray]], out: str,
                       column: str, widths: tuple[int, int, int], notes: Sequence[str] = ()) -> int:
    """Print per input the board's int8 scores, label and invoke time (from out, the board's
    output) beside TFLite Micro's for the same input, run here; then notes and the count of
    identical ones. Exit status 0 if all are identical. inputs: (name on the board, model
    input); widths: of the name, scores and label columns."""
    with open(model, "rb") as f:
        flatbuffer = f.read()
    found = board_results(out, len(labels))
    tier = re.search(r"^TIER (\w+)", out, re.MULTILINE)
    name_w, scores_w, label_w = widths
    row = "%%-%ds %%-%ds %%-%ds %%7d us   %%-%ds %%-%ds %%s" % (name_w, scores_w, label_w, scores_w, label_w)
    print()
    print("scores are int8 [%s]; kernel tier on the board: %s" % (", ".join(labels), tier.group(1) if tier else "?"))
    print(("%%-%ds %%-%ds %%-%ds %%10s   %%-%ds %%s" % (name_w, scores_w, label_w, scores_w))
          % (column, "board scores", "label", "invoke", "TFLM scores", "label"))
    same = 0
    for name, x in inputs:
        if name not in found:
            print(("%%-%ds no result from the board:\n%%s" % name_w) % (name, out.strip()))
            continue
        scores, label, us, _ = found[name]
        want = [int(v) for v in run(flatbuffer, [x]).get_output(0).ravel()]
        want_label = labels[int(np.argmax(want))]
        ok = scores == want and label == want_label
        same += ok
        print(row % (name, str(scores), label, us, str(want), want_label, "identical" if ok else "DIFFERENT"))
    print()
    for note in notes:
        print(note)
    print("board scores identical to TFLite Micro: %d of %d" % (same, len(inputs)))
    return 0 if same == len(inputs) else 1
