"""Person detection on a board: bake person_detect, deploy it, send BMP images, classify on the board.

    python examples/person_detection/classify.py --port /dev/ttyACM0 [IMAGE.bmp ...]
    python examples/person_detection/classify.py --virtual            # no hardware needed
    python examples/person_detection/classify.py --virtual --frames   # from raw camera frames

Bakes ../shared/models/person_detect.tflite with --weights file --mpy (its 241 KB of
weights stream from person_detect.bin, so it fits a 190 KB heap), deploys it with the
runtime, copies each image and detect_person.py to the board, runs the inference there
through the raw REPL, and prints the board's [no_person, person] scores and label beside
the TFLite Micro interpreter's for the same input, computed on this host.

With --frames each image becomes a raw 160x120 RGB565 (high byte first) colour frame, as
a camera module gives; the board turns it into the model's input with upyflow.image, and
the host does the same steps in numpy (upyflow_tools.frames) before running TFLM.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

from upyflow_tools import board_demo, frames
from upyflow_tools.bake import compile_mpy
from upyflow_tools.vboard import board_arguments

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
MODEL = os.path.join(SHARED, "models", "person_detect.tflite")
IMAGES = [os.path.join(SHARED, "testdata", f) for f in ("person.bmp", "no_person.bmp")]
LABELS = ("no_person", "person")
SIDE = 96


def bmp_input(path: str) -> np.ndarray:
    """The model input for an 8-bit BMP, as detect_person.read_bmp builds it on the board."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"BM":
        raise ValueError("%s is not a BMP file" % path)
    offset = int.from_bytes(data[10:14], "little")
    width = int.from_bytes(data[18:22], "little", signed=True)
    height = int.from_bytes(data[22:26], "little", signed=True)
    bpp = int.from_bytes(data[28:30], "little")
    if bpp != 8 or width != SIDE or abs(height) != SIDE:
        raise ValueError("%s: need a %dx%d 8-bit grayscale BMP" % (path, SIDE, SIDE))
    stride = (width + 3) & ~3
    rows = np.frombuffer(data, np.uint8, stride * SIDE, offset).reshape(SIDE, stride)[:, :width]
    if height > 0:
        rows = rows[::-1]                  # stored bottom-up
    return rows.view(np.int8).reshape(1, SIDE, SIDE, 1)


FRAME_W, FRAME_H, FRAME_FMT = 160, 120, "rgb565be"


def camera_frame(path: str) -> bytes:
    """A deterministic raw frame from a BMP: the gray value p behind each input byte
    (TFLM's camera convention: input int8 = p - 128) scaled to 120x120, tinted and
    centred on a 160x120 background, as RGB565 high byte first."""
    gray = bmp_input(path).reshape(SIDE, SIDE).view(np.uint8) ^ 0x80
    return frames.frame_from_gray(gray, FRAME_W, FRAME_H, FRAME_FMT)


def frame_input(frame: bytes) -> np.ndarray:
    """The model input for a frame, by detect_person.classify_frame_file's steps done in numpy:
    centre 120x120 crop, nearest resize to 96x96, BT.601 gray, int8 p - 128."""
    side = min(FRAME_W, FRAME_H)
    x = frames.to_input(frame, FRAME_FMT, FRAME_W, FRAME_H, SIDE, SIDE, 1, "i8",
                        crop=((FRAME_W - side) // 2, (FRAME_H - side) // 2, side, side),
                        resize="nearest", normalise="direct")
    return np.frombuffer(x, np.int8).reshape(1, SIDE, SIDE, 1)


def classify_on_board(port: str, images: list[str], outdir: str, tool: str = "mpremote",
                      verbose: bool = False, use_frames: bool = False) -> int:
    board = board_demo.bake_and_deploy(MODEL, outdir, "person_detect", "--weights file --mpy", port, tool,
                                       verbose, weights="file")
    # Compiled on the host: compiling on the board would leave its heap fragmented, and
    # person_detect needs one large block (55 KB arena + 35 KB weight buffer) of a 190 KB heap.
    with tempfile.TemporaryDirectory() as staging:
        src = os.path.join(staging, "detect_person.py")
        shutil.copyfile(os.path.join(HERE, "detect_person.py"), src)
        board.put(compile_mpy(src), "/detect_person.mpy")
        inputs = []
        for path in images:
            if use_frames:
                frame = camera_frame(path)
                name = os.path.splitext(os.path.basename(path))[0] + "." + FRAME_FMT
                with open(os.path.join(staging, name), "wb") as f:
                    f.write(frame)
                board.put(os.path.join(staging, name), "/" + name)
                inputs.append((name, frame_input(frame)))
            else:
                name = os.path.basename(path)
                board.put(path, "/" + name)
                inputs.append((name, bmp_input(path)))
            print("sent %s to the board" % name)
    out = board_demo.classify_each(board, "detect_person", [name for name, _ in inputs],
                                 "classify_frame_file" if use_frames else "classify")
    # classify_frame_file's RESULT lines end with the frame preparation time
    prep = [more[0] for _s, _l, _us, more in board_demo.board_results(out, len(LABELS)).values() if more]
    notes = ["frame -> input on the board (upyflow.image): %s us" % ", ".join(prep)] if prep else []
    return board_demo.scores_beside_tflm(MODEL, LABELS, inputs, out, "image", (18, 13, 10), notes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    board_arguments(ap)
    ap.add_argument("images", nargs="*", default=IMAGES,
                    help="96x96 8-bit grayscale BMPs (default: ../shared/testdata/person.bmp, no_person.bmp)")
    ap.add_argument("--outdir", default=os.path.join(ROOT, "out", "person_detection"),
                    help="where the baked model goes (default out/person_detection)")
    ap.add_argument("--frames", action="store_true",
                    help="send each image as a raw 160x120 RGB565 camera frame; the board prepares it")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every file deploy copies")
    args = ap.parse_args(argv)
    return board_demo.on_board(args, [MODEL] + args.images, "the TFLM model and images",
                               lambda port: classify_on_board(port, args.images, args.outdir, args.tool,
                                                              args.verbose, args.frames))


if __name__ == "__main__":
    sys.exit(main())
