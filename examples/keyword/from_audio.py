"""Keyword spotting from raw 16 kHz audio: TFLM's audio front end + micro_speech, on the host or a board.

    python examples/keyword/from_audio.py --host [WAV ...]                  # CPython, every tier
    python examples/keyword/from_audio.py --virtual [--tier pure] [WAV ...]  # the virtual board
    python examples/keyword/from_audio.py --port /dev/ttyACM0 [WAV ...]

Bakes ../shared/models/audio_preprocessor_int8.tflite (the front end, TFLM Signal ops) as
audio_front_end and micro_speech_quantized.tflite, then runs listen.py on each WAV (default:
../shared/testdata/{yes,no,silence,noise}_1000ms.wav): one 30 ms window per front-end call,
20 ms apart, 49 windows, then one classification. Prints the scores and label beside TFLite
Micro's for the same audio (its front end and model run here on the host) and the front
end's time per window beside the 20 ms hop it must keep up with.
"""
from __future__ import annotations

import argparse
import os
import sys
import wave

import numpy as np

from upyflow_tools import board_demo
from upyflow_tools.bake import bake
from upyflow_tools.vboard import board_arguments

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("UPYFLOW_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
FRONT_END = os.path.join(SHARED, "models", "audio_preprocessor_int8.tflite")
MODEL = os.path.join(SHARED, "models", "micro_speech_quantized.tflite")
WAVS = [os.path.join(SHARED, "testdata", "%s_1000ms.wav" % c) for c in ("yes", "no", "silence", "noise")]
LABELS = ("silence", "unknown", "yes", "no")
WINDOW, HOP, FRAMES = 480, 320, 49
HOP_MS = 1000.0 * HOP / 16000


def read_wav(path: str) -> np.ndarray:
    try:
        with wave.open(path) as w:
            if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (16000, 2, 1):
                raise ValueError("%s: need 16 kHz mono 16-bit PCM" % path)
            samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    except (wave.Error, EOFError) as e:
        raise ValueError("%s: not a WAV file (%s)" % (path, e)) from None
    if len(samples) < WINDOW:
        raise ValueError("%s: shorter than one window" % path)
    return samples


def tflm_pipeline(samples: np.ndarray) -> list[int]:
    """The oracle: TFLM's front end on each window (fresh state), then TFLM's micro_speech."""
    from upyflow_tools.tflm import interpreter
    with open(FRONT_END, "rb") as f:
        fe = interpreter(f.read())
    feats = []
    for i in range(FRAMES):
        w = samples[i * HOP:i * HOP + WINDOW]
        if len(w) < WINDOW:
            break
        fe.set_input(w.reshape(1, WINDOW), 0)
        fe.invoke()
        feats.append(np.array(fe.get_output(0)).reshape(-1))
    x = np.zeros((FRAMES, 40), np.int8)
    if feats:   # the newest windows last, as listen.py's ring gives them
        x[FRAMES - len(feats):] = np.array(feats)
    with open(MODEL, "rb") as f:
        kws = interpreter(f.read())
    kws.set_input(x.reshape(1, -1), 0)
    kws.invoke()
    return [int(v) for v in np.array(kws.get_output(0)).ravel()]


def bake_both(outdir: str) -> None:
    print("baking %s -> audio_front_end, %s -> micro_speech_quantized (%s)"
          % (os.path.basename(FRONT_END), os.path.basename(MODEL), os.path.relpath(outdir)))
    bake(FRONT_END, outdir, name="audio_front_end", mpy=True)
    bake(MODEL, outdir, name="micro_speech_quantized", mpy=True)


def report(rows: list[tuple[str, str, list[int], str, float, int]], wavs: list[str]) -> int:
    """rows: (tier, wav name, scores, label, us per window, windows)."""
    same = 0
    print("scores are int8 [silence, unknown, yes, no]; front end time per window beside the %.0f ms hop"
          % HOP_MS)
    print("%-7s %-20s %-24s %-8s %15s   %-24s %s" % ("tier", "audio", "upyflow scores", "label",
                                                     "front end", "TFLM scores", "label"))
    want = {os.path.basename(p): tflm_pipeline(read_wav(p)) for p in wavs}
    for tier, name, scores, label, us, _n in rows:
        w = want[name]
        w_label = LABELS[int(np.argmax(w))]
        ok = scores == w and label == w_label
        same += ok
        print("%-7s %-20s %-24s %-8s %9.3f ms/win   %-24s %-8s %s"
              % (tier, name, str(scores), label, us / 1000.0, str(w), w_label,
                 "identical" if ok else "DIFFERENT"))
    print("identical to TFLite Micro's pipeline: %d of %d" % (same, len(rows)))
    return 0 if same == len(rows) else 1


def run_host(wavs: list[str], outdir: str) -> int:
    sys.path[:0] = [outdir, HERE]
    import listen

    import upyflow
    rows = []
    for tier in upyflow.tiers():
        spotter = listen.Spotter(tier=tier)
        for path in wavs:
            read_wav(path)                 # a clear error for a bad file
            scores, label, n, us = listen.spot_wav(spotter, path)
            rows.append((spotter.front_end.tier, os.path.basename(path), scores, label, us, n))
    return report(rows, wavs)


def run_board(port: str, wavs: list[str], outdir: str, tool: str, tier: str | None) -> int:
    from upyflow_tools.deploy import Board, deploy
    deploy(outdir, port, tool, log=board_demo.deploy_log(False))
    board = Board(port, tool)
    board.put(os.path.join(HERE, "listen.py"), "/listen.py")
    names = []
    for path in wavs:
        read_wav(path)
        names.append(os.path.basename(path))
        board.put(path, "/" + names[-1])
    board.soft_reset()
    out = board.exec("import listen\ns = listen.Spotter(tier=%r)\nfor p in %r:\n"
                     "    r = listen.spot_wav(s, p)\n"
                     "    print('RESULT', p, ' '.join(str(v) for v in r[0]), r[1], r[2], r[3], s.front_end.tier)\n"
                     % (tier, names))
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 10 and parts[0] == "RESULT":
            rows.append((parts[9], parts[1], [int(v) for v in parts[2:6]], parts[6], int(parts[8]), int(parts[7])))
    if len(rows) != len(names):
        print("the board gave %d results for %d files:\n%s" % (len(rows), len(names), out.strip()))
        return 1
    return report(rows, wavs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    board_arguments(ap, host="run on this Python, every kernel tier it has")
    ap.add_argument("wavs", nargs="*", default=WAVS, help="16 kHz mono 16-bit WAV files "
                    "(default: ../shared/testdata/{yes,no,silence,noise}_1000ms.wav)")
    ap.add_argument("--outdir", default=os.path.join(ROOT, "out", "keyword_audio"),
                    help="where the baked models go (default out/keyword_audio)")
    ap.add_argument("--tier", choices=["native", "viper", "pure"], help="kernel tier on the board")
    args = ap.parse_args(argv)
    if board_demo.missing_inputs([FRONT_END, MODEL] + args.wavs, "the TFLM models and clips"):
        return 2
    return board_demo.exit_status(lambda: bake_and_run(args))


def bake_and_run(args: argparse.Namespace) -> int:
    """Check the WAV files, bake both models, classify on this host or the board."""
    for p in args.wavs:
        read_wav(p)
    bake_both(args.outdir)
    if args.host:
        return run_host(args.wavs, args.outdir)
    from upyflow_tools.vboard import serial_port
    with serial_port(args.port, args.virtual) as port:
        return run_board(port, args.wavs, args.outdir, args.tool, args.tier)


if __name__ == "__main__":
    sys.exit(main())
