"""`upyflow`: bake TFLite and ONNX models into MicroPython modules, inspect them, use a board."""
from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from . import BakeError, __version__

if TYPE_CHECKING:
    from .ptq import Quantization


def _cmd_bake(args: argparse.Namespace) -> int:
    """bake MODEL.tflite or MODEL.onnx into OUTDIR/NAME.py (and .mpy)

    Read a .tflite or .onnx model, precompute all quantization constants, plan the activation arena
    and write a Python module.
    """
    from .bake import bake
    print("upyflow: baking %s" % args.model, file=sys.stderr)
    result, files = bake(args.model, args.outdir, name=args.name, mpy=args.mpy, march=args.march,
                         weights=args.weights, quantize=_quantization(args), rounding=args.rounding,
                         patches=args.patches, labels=args.labels, constants=_constants(args.const),
                         input_shapes=_input_shapes(args.input_shape), input_layout=args.input_layout)
    b = result.baked
    print("%s: %d ops, arena %d bytes, weights %d bytes, %d tensors"
          % (result.name, len(b.calls), b.arena_size, len(b.weights), len(b.tensors)))
    for note in result.graph.notes:
        print("note: " + note)
    if result.patch_report:
        print(result.patch_report)
    for f in files:
        print("wrote %s" % f)
    from .report import ram_report
    print(ram_report(result))
    if result.quant_report:
        print(result.quant_report)
    return 0


def _by_name(specs: list[str] | None, option: str, form: str, value) -> dict | None:
    """A repeatable option NAME=VALUE as {NAME: value(NAME, VALUE)} (None when not given); a
    ValueError from value, or a spec without both parts, says the option takes form."""
    if not specs:
        return None
    out = {}
    for spec in specs:
        name, eq, text = spec.partition("=")
        try:
            if not eq or not name or not text:
                raise ValueError(spec)
            out[name] = value(name, text)
        except ValueError:
            raise BakeError("%s takes %s, not %r" % (option, form, spec)) from None
    return out


def _constants(specs: list[str] | None) -> dict | None:
    """--const NAME=FILE.npy (repeatable): graph inputs baked as constants of those arrays."""
    return _by_name(specs, "--const", "NAME=FILE.npy", _npy_constant)


def _npy_constant(name: str, path: str):
    import numpy as np
    try:
        data = np.load(path, allow_pickle=False)
    except OSError as e:
        raise BakeError("--const %s: cannot read %s: %s" % (name, path, e.strerror or e)) from None
    except ValueError:
        raise BakeError("--const %s: %s is not a .npy array file (numpy.save)" % (name, path)) from None
    if not isinstance(data, np.ndarray):
        raise BakeError("--const %s: %s holds several arrays (.npz); give one .npy array" % (name, path))
    return data


def _input_shapes(specs: list[str] | None) -> dict | None:
    """--input-shape NAME=1,3,32,32 (repeatable)."""
    return _by_name(specs, "--input-shape", "NAME=D0,D1,... (positive integers)", _positive_dims)


def _positive_dims(_name: str, dims: str) -> tuple[int, ...]:
    shape = tuple(int(d) for d in dims.split(","))
    if min(shape) < 1:
        raise ValueError(dims)
    return shape


def _quantization(args: argparse.Namespace) -> Quantization | None:
    """The --quantize request, or None; calibration is required with it."""
    if args.quantize is None:
        if args.calibration or args.int8_io:
            raise BakeError("--calibration and --int8-io go with --quantize int8")
        return None
    if not args.calibration:
        raise BakeError("--quantize int8 needs --calibration DATA.npy (sample inputs)")
    import numpy as np

    from .ptq import Quantization
    try:
        data = np.load(args.calibration, allow_pickle=False)
    except OSError as e:
        raise BakeError("cannot read calibration data %s: %s" % (args.calibration, e.strerror or e)) from None
    except ValueError:
        # numpy's own message here is about pickles, which says nothing to a user
        raise BakeError("calibration data %s is not a .npy array file: save the sample inputs "
                        "with numpy.save('data.npy', array)" % args.calibration) from None
    if not isinstance(data, np.ndarray):
        data.close()
        raise BakeError("calibration data %s holds several arrays (.npz): give one .npy array "
                        "of sample inputs" % args.calibration)
    return Quantization(data, int8_io=args.int8_io)


def _cmd_inspect(args: argparse.Namespace) -> int:
    """check a model: every operator supported or not, inputs/outputs, arena plan

    A compatibility check and what board code needs: every operator marked supported or not (with
    the reason), inputs and outputs with dtype, shape, layout, scale and zero point and two lines of
    board code, the per-tensor arena plan and the arena beside TFLite Micro's head arena. Exit
    status 1 when the model does not bake.
    """
    from .report import supported_table
    if args.ops or not args.model:
        print(supported_table())
        if not args.model:
            return 0
        print()
    from .inspect_model import inspect_model, inspect_text, plot_plan
    info = inspect_model(args.model, tflm=not args.no_tflm, input_layout=args.input_layout)
    if args.json:
        import json
        print(json.dumps(info, indent=1))
    else:
        print(inspect_text(info))
    if args.plot:
        print("wrote %s" % plot_plan(info, args.plot), file=sys.stderr if args.json else sys.stdout)
    return 0 if info["bakes"] else 1


def _cmd_run(args: argparse.Namespace) -> int:
    """run a local script on the board, printing its output as it comes

    Execute SCRIPT on the board (through mpremote or ampy) and print what it prints as it prints it,
    e.g. a script that loads a model and classifies. Exit status 1 if the script raised.
    """
    from .deploy import Board
    if not os.path.isfile(args.script):
        raise BakeError("no script %s: `upyflow run` takes a local .py file" % args.script)
    # The tool's own `run` streams what the board prints as it prints it, and a
    # traceback arrives whole; its exit status is the script's (1 if it raised).
    return Board(args.port, args.tool).run_script(args.script)


def _cmd_repl(args: argparse.Namespace) -> int:
    """open the board's REPL (mpremote)

    Open an interactive MicroPython prompt on the board through mpremote (Ctrl-] or Ctrl-x leaves
    it).
    """
    import subprocess

    from .deploy import _exe, check_port, connect_args
    check_port(args.port, "mpremote")
    return subprocess.call([_exe("mpremote")] + connect_args(args.port) + ["repl"])


def _cmd_profile(args: argparse.Namespace) -> int:
    """time each op of a model on the host or a board, slowest first

    Bake MODEL (.tflite or .onnx) to a temporary module and time every kernel call on random input:
    under CPython, or with --port on a board (deployed there first), beside the host's figures.
    """
    from .profile import profile_text
    if args.reps < 1:
        raise BakeError("--reps must be at least 1")
    if args.port:
        from .profile import board_profile_text
        print(board_profile_text(args.model, args.port, args.tool, args.tier, args.reps, args.weights))
        return 0
    if args.tier == "viper":
        raise BakeError("--tier viper runs only under MicroPython (its native emitter); "
                        "on the host the tiers are native and pure (or give --port to profile on a board)")
    print(profile_text(args.model, args.tier, args.reps))
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    """copy runtime, native module and baked models to a board

    Copy the upyflow runtime (.mpy for the board's arch), the native kernel modules if built for that
    arch (the core and the kernel families the models use), and the models in OUTDIR to the board's
    filesystem, skipping files already identical.
    """
    from .deploy import deploy
    deploy(args.outdir, args.port, args.tool, args.runtime, args.native, keep=args.keep)
    return 0


def _cmd_freeze(args: argparse.Namespace) -> int:
    """write a manifest.py that freezes the runtime and models into firmware

    For users who build their own MicroPython firmware: frozen modules keep their const bytes
    weights in flash, costing no RAM.
    """
    from .deploy import freeze_manifest
    print("wrote %s" % freeze_manifest(args.outdirs, args.output, args.march, log=print))
    return 0


def _cmd_ops(_args: argparse.Namespace) -> int:
    """list the supported operators and types

    Print the table of operators upyflow bakes and the tensor types each supports (the same table as
    the README's).
    """
    from .report import supported_table
    print(supported_table())
    return 0


# mpy-cross's -march values (MicroPython's native architectures).
MARCHES = ("x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
           "xtensa", "xtensawin", "rv32imc", "rv64imc")
PORT_HELP = ("serial port, e.g. /dev/ttyACM0 or COM3 (default: auto, the first USB serial board "
             "mpremote finds)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="upyflow",
        description="Bake TFLite and ONNX models into MicroPython modules that run bit-exact "
                    "with TensorFlow Lite Micro (ONNX: with onnxruntime).",
        epilog="Example: upyflow bake model.tflite -o out --mpy; then copy out/model.mpy "
               "and the upyflow package to the board and run upyflow.load('model').")
    p.add_argument("--version", action="version", version="upyflow " + __version__)
    sub = p.add_subparsers(dest="command", required=True)

    b = _command(sub, _cmd_bake)
    b.add_argument("model", help="the .tflite or .onnx file")
    b.add_argument("-o", "--outdir", default=".", help="output folder (default: current)")
    b.add_argument("--name", help="module name (default: the model file's stem)")
    b.add_argument("--mpy", action="store_true", help="also compile NAME.mpy with mpy-cross")
    b.add_argument("--weights", choices=["inline", "file"], default="inline",
                   help="inline: const bytes in the module (flash when frozen; default); "
                        "file: NAME.bin beside it, streamed one layer at a time (RAM = arena + largest layer)")
    b.add_argument("--march", choices=MARCHES, metavar="ARCH",
                   help="mpy-cross -march, one of %s; only matters for native code" % ", ".join(MARCHES))
    b.add_argument("--quantize", choices=["int8"],
                   help="quantize a float model (post-training, TFLite style: int8 per-channel weights, "
                        "int8 activations from calibration ranges); prints int8 vs float agreement")
    b.add_argument("--calibration", metavar="DATA.npy",
                   help="with --quantize: sample inputs, shape (samples, *model input shape) in the model "
                        "file's layout (NCHW for ONNX); a batch-1 input may drop its batch axis")
    b.add_argument("--int8-io", action="store_true",
                   help="with --quantize: keep int8 input/output (default: float32 in and out)")
    b.add_argument("--rounding", choices=["tflm", "onnxruntime"],
                   help="int8 conv/FC requantization: tflm (bit-exact with TFLite Micro) or onnxruntime "
                        "(float32 scale, ties to even, as onnxruntime's CPU kernels); default: onnxruntime "
                        "for QDQ ONNX models, tflm otherwise")
    b.add_argument("--labels", metavar="LABELS.txt",
                   help="class names of output 0, one per line: m.labels on the board, and "
                        "m.top() pairs index into it")
    b.add_argument("--patches", choices=["auto", "off"], default="auto",
                   help="auto (default): run the first layers of a CNN in bands of rows where that "
                        "shrinks the arena (byte-identical; at most 10%% more arithmetic); off: one "
                        "call per layer")
    b.add_argument("--const", action="append", metavar="NAME=FILE.npy",
                   help="bake graph input NAME as a constant with these values (weights a model "
                        "takes as inputs); repeatable")
    b.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...",
                   help="ONNX: the shape of graph input NAME, fixing its symbolic dimensions; repeatable")
    b.add_argument("--input-layout", choices=["nhwc", "nchw"],
                   help="ONNX: byte order of rank-4 inputs and outputs on the board: nchw (default: the file's, "
                        "what onnxruntime takes; a transpose runs on the board where the bytes need one) or "
                        "nhwc (the kernels' own order: no transpose before the first Conv)")

    i = _command(sub, _cmd_inspect)
    i.add_argument("model", nargs="?", help="the .tflite or .onnx file (none: only the operator table)")
    i.add_argument("--ops", action="store_true", help="also print the supported operators and types")
    i.add_argument("--no-tflm", action="store_true", help="skip running TFLite Micro for its figure")
    i.add_argument("--json", action="store_true", help="print all of it as JSON")
    i.add_argument("--input-layout", choices=["nhwc", "nchw"],
                   help="ONNX: as bake's (default nchw, the file's): the layout the inputs/outputs are listed in")
    i.add_argument("--plot", metavar="PLAN.png",
                   help="draw the memory plan (tensors over calls x arena offset) and the weight bytes "
                        "per layer (needs matplotlib)")

    pr = _command(sub, _cmd_profile)
    pr.add_argument("model", help="the .tflite or .onnx file")
    pr.add_argument("--tier", choices=["native", "viper", "pure"], help="kernel tier (default: fastest)")
    pr.add_argument("--reps", type=int, default=3, help="repetitions; the best time counts (default 3)")
    pr.add_argument("--port", help="profile on the board at PORT (or 'auto'): bake, deploy, time each op "
                                   "there, beside the host's figures")
    pr.add_argument("--tool", choices=["mpremote", "ampy"], default="mpremote",
                    help="with --port: transfer tool (default mpremote)")
    pr.add_argument("--weights", choices=["inline", "file"], default="inline",
                    help="with --port: weights placement to bake (file: for models too big for the heap)")

    d = _command(sub, _cmd_deploy)
    d.add_argument("outdir", help="folder of baked models (from upyflow bake)")
    _board_arguments(d)
    d.add_argument("--runtime", choices=["mpy", "py"], default="mpy",
                   help="copy the runtime compiled (.mpy, default: less RAM on import) or as source")
    d.add_argument("--keep", action="store_true",
                   help="leave .py files that shadow the copied .mpy on the board (and say which); "
                        "by default deploy removes them, since MicroPython would import them instead")
    d.add_argument("--native", help="path of the core upyflow_native.mpy, its kernel family modules "
                                    "(upyflow_native_<family>.mpy) beside it (default: the ones shipped with "
                                    "upyflow for the board's arch, e.g. a build of your own from "
                                    "native_modules/micropython)")

    f = _command(sub, _cmd_freeze)
    f.add_argument("outdirs", nargs="+", help="folders of baked models (.py)")
    f.add_argument("-o", "--output", default="manifest.py", help="manifest path (default manifest.py)")
    from .deploy import ARCHS
    f.add_argument("--march", choices=[a for a in ARCHS if a],
                   help="the firmware's native arch (as mpy-cross -march): the viper kernels are frozen only "
                        "when it is given and is not armv6m, where frozen viper code can crash (see README)")

    r = _command(sub, _cmd_run)
    r.add_argument("script", help="a local .py file")
    _board_arguments(r)

    rp = _command(sub, _cmd_repl)
    rp.add_argument("--port", default="auto", help=PORT_HELP)

    _command(sub, _cmd_ops)
    return p


def _command(sub, fn) -> argparse.ArgumentParser:
    """The subcommand NAME that fn (_cmd_NAME) runs: its docstring's first line is the summary
    `upyflow -h` lists, the rest the description of `upyflow NAME -h`."""
    summary, _, description = (fn.__doc__ or "").partition("\n")
    p = sub.add_parser(fn.__name__[len("_cmd_"):], help=summary.strip(), description=description.strip() or None)
    p.set_defaults(fn=fn)
    return p


def _board_arguments(p: argparse.ArgumentParser) -> None:
    """--port and --tool, as the commands that talk to a board take them."""
    p.add_argument("--port", default="auto", help=PORT_HELP)
    p.add_argument("--tool", choices=["mpremote", "ampy"], default="mpremote", help="transfer tool (default mpremote)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except BakeError as e:
        print("upyflow: error: %s" % e, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `upyflow ops | head`: the reader left; say nothing more, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("upyflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
