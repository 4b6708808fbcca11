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
import sys

import numpy as np

from upyflow_tools import board_demo
from upyflow_tools.vboard import board_arguments

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
    board = board_demo.bake_and_deploy(MODEL, outdir, "micro_speech_quantized", "--mpy, weights inline",
                                       port, tool, verbose)
    board.put(os.path.join(HERE, "spot_keyword.py"), "/spot_keyword.py")
    inputs = []
    for path in files:
        inputs.append((os.path.basename(path), features(path)))   # a wrong size refused here, not on the board
        board.put(path, "/" + inputs[-1][0])
        print("sent %s to the board" % inputs[-1][0])
    out = board_demo.classify_each(board, "spot_keyword", [name for name, _ in inputs])
    return board_demo.scores_beside_tflm(MODEL, LABELS, inputs, out, "features", (34, 24, 8))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    board_arguments(ap)
    ap.add_argument("files", nargs="*", default=FEATURES,
                    help="1960-byte int8 feature files (default: ../shared/testdata/"
                         "micro_speech_features_{yes,no,silence,noise}.bin)")
    ap.add_argument("--outdir", default=os.path.join(ROOT, "out", "keyword"),
                    help="where the baked model goes (default out/keyword)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every file deploy copies")
    args = ap.parse_args(argv)
    return board_demo.on_board(args, [MODEL] + args.files, "the TFLM model and features",
                               lambda port: classify_on_board(port, args.files, args.outdir, args.tool, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
