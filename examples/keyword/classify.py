"""Keyword spotting on a board: bake micro_speech, deploy it, send feature files, classify on the board.

    python examples/keyword/classify.py --port /dev/ttyACM0 [FEATURES.bin ...]
    python examples/keyword/classify.py --virtual                  # no hardware needed

Bakes ../shared/models/micro_speech_quantized.tflite into an .mpy with inline weights,
deploys it with the runtime, copies spot_keyword.py and each 1960-byte int8 feature file
(default: ../shared/testdata/micro_speech_features_{yes,no,silence,noise}.bin) to the
board, runs the inference there through the raw REPL, and prints the board's
[silence, unknown, yes, no] scores and label beside the TFLite Micro interpreter's for
the same input, computed on this host.
"""
from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from upyflow_tools import BakeError
from upyflow_tools.bake import bake
from upyflow_tools.deploy import Board, deploy
from upyflow_tools.tflm import run
from upyflow_tools.vboard import serial_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
MODEL = os.path.join(SHARED, "models", "micro_speech_quantized.tflite")
CLIPS = ("yes", "no", "silence", "noise")
FEATURES = [os.path.join(SHARED, "testdata", "micro_speech_features_%s.bin" % c) for c in CLIPS]
LABELS = ("silence", "unknown", "yes", "no")
NBYTES = 49 * 40


def features(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != NBYTES:
        raise ValueError("%s: need %d int8 feature bytes, got %d" % (path, NBYTES, len(data)))
    return np.frombuffer(data, np.int8).reshape(1, NBYTES)


def classify_on_board(port: str, files: list[str], outdir: str, tool: str = "mpremote",
                      verbose: bool = False) -> int:
    print("baking %s -> %s (--mpy, weights inline)" % (os.path.relpath(MODEL), os.path.relpath(outdir)))
    bake(MODEL, outdir, name="micro_speech_quantized", mpy=True)
    def log(line: str) -> None:
        if verbose or not line.startswith("["):      # per-file lines only with --verbose
            print(line)
    deploy(outdir, port, tool, log=log)
    board = Board(port, tool)
    board.put(os.path.join(HERE, "spot_keyword.py"), "/spot_keyword.py")
    names = []
    for path in files:
        features(path)                     # refuse a wrong size here, not on the board
        names.append(os.path.basename(path))
        board.put(path, "/" + names[-1])
        print("sent %s to the board" % names[-1])
    board.soft_reset()                     # the transfers leave garbage; start on a clean heap
    out = board.exec("import spot_keyword\nfor p in %r:\n    spot_keyword.report(p)\n"
                     "print('TIER', spot_keyword.model().tier)\n" % (names,))
    tier = re.search(r"^TIER (\w+)", out, re.MULTILINE)
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[0] == "RESULT":
            found[parts[1]] = ([int(v) for v in parts[2:6]], parts[6], int(parts[7]))
    with open(MODEL, "rb") as f:
        model = f.read()
    same = 0
    print()
    print("scores are int8 [silence, unknown, yes, no]; kernel tier on the board: %s"
          % (tier.group(1) if tier else "?"))
    print("%-34s %-24s %-8s %10s   %-24s %s" % ("features", "board scores", "label", "invoke", "TFLM scores", "label"))
    for path, name in zip(files, names):
        if name not in found:
            print("%-34s no result from the board:\n%s" % (name, out.strip()))
            continue
        scores, label, us = found[name]
        want = [int(v) for v in run(model, [features(path)]).get_output(0).ravel()]
        want_label = LABELS[int(np.argmax(want))]
        ok = scores == want and label == want_label
        same += ok
        print("%-34s %-24s %-8s %7d us   %-24s %-8s %s"
              % (name, str(scores), label, us, str(want), want_label, "identical" if ok else "DIFFERENT"))
    print()
    print("board scores identical to TFLite Micro: %d of %d" % (same, len(files)))
    return 0 if same == len(files) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial port of a MicroPython board, e.g. /dev/ttyACM0")
    where.add_argument("--virtual", action="store_true",
                       help="use a virtual board (MicroPython unix port, 190K heap like an RP2040)")
    ap.add_argument("files", nargs="*", default=FEATURES,
                    help="1960-byte int8 feature files (default: ../shared/testdata/"
                         "micro_speech_features_{yes,no,silence,noise}.bin)")
    ap.add_argument("--outdir", default=os.path.join(ROOT, "out", "keyword"),
                    help="where the baked model goes (default out/keyword)")
    ap.add_argument("--tool", choices=["mpremote", "ampy"], default="mpremote", help="transfer tool")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every file deploy copies")
    args = ap.parse_args(argv)
    missing = [p for p in [MODEL] + args.files if not os.path.exists(p)]
    if missing:
        print("missing: %s (the TFLM model and features live in ../shared beside the repo)"
              % ", ".join(missing), file=sys.stderr)
        return 2
    with serial_port(args.port, args.virtual) as port:
        try:
            return classify_on_board(port, args.files, args.outdir, args.tool, args.verbose)
        except (BakeError, ValueError) as e:
            print("error: %s" % e, file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
