"""Natmod bytes `upyflow deploy` copies per shared model: the core plus the kernel family
modules the model uses (deploy.model_families), per board arch, from the shipped natmods
(host_tools/upyflow_tools/natmods, manifest.json). On a board a natmod's code is copied to
RAM at import (rp2: the GC heap; esp32: IRAM), so this is also about the RAM its C takes.

    python benchmarks/natmod_bytes.py [--archs armv6m,xtensawin] [--external]

Prints Markdown: per model its families and, per arch, the bytes copied and their share of
all the arch's modules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from board_ram import EXTERNAL, FILE_WEIGHTS, MODELS, SHARED, module_name  # noqa: E402

from upyflow_tools.bake import bake  # noqa: E402
from upyflow_tools.deploy import NATMODS, model_families, model_files  # noqa: E402
from upyflow_tools.natmod_ram import import_bytes  # noqa: E402


def families_of(name: str, workdir: str) -> list[str]:
    """The kernel families deploy copies for the shared model name (baked as board_ram does)."""
    path = os.path.join(SHARED, name + ".tflite")
    outdir = os.path.join(workdir, module_name(name))
    weights = "file" if name in FILE_WEIGHTS else "inline"
    bake(path, outdir, name=module_name(name), weights=weights)
    fams = model_families(model_files(outdir))
    assert fams is not None
    return sorted(fams)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="armv6m,xtensawin")
    ap.add_argument("--external", action="store_true", help="also ../shared/models/external's models")
    args = ap.parse_args(argv)
    with open(os.path.join(NATMODS, "manifest.json")) as f:
        manifest = json.load(f)
    archs = args.archs.split(",")
    names = list(MODELS)
    if args.external:
        ext = os.path.join(SHARED, EXTERNAL)
        names += sorted(EXTERNAL + "/" + f[:-7] for f in os.listdir(ext) if f.endswith(".tflite"))
    head = "| model | kernel families | " + " | ".join("%s .mpy bytes (of all) / at import" % a for a in archs) + " |"
    rows = [head, "|---|---|" + "---:|" * len(archs)]

    def cost(arch: str, mods: list[str]) -> tuple[int, int]:
        """(.mpy bytes, bytes allocated at import: text + rodata + bss) of those modules."""
        sizes = manifest["archs"][arch]["modules"]
        ram = [import_bytes(os.path.join(NATMODS, arch, m + ".mpy")) for m in mods]
        return sum(sizes[m]["size"] for m in mods), sum(a + b for a, b in ram)

    every = {
        a: ["upyflow_native"] + sorted(m for m in manifest["archs"][a]["modules"] if m != "upyflow_native")
        for a in archs
    }
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            try:
                fams = families_of(name, work)
            except Exception as e:  # a model this checkout cannot bake: say so, go on
                rows.append("| %s | not baked: %s |" % (name, str(e).splitlines()[0][:80]) + " - |" * len(archs))
                continue
            cells = []
            for arch in archs:
                size, ram = cost(arch, ["upyflow_native"] + ["upyflow_native_" + f for f in fams])
                total = cost(arch, every[arch])[0]
                cells.append("%d (%d%%) / %d" % (size, round(100 * size / total), ram))
            rows.append("| %s | %s | %s |" % (name, ", ".join(fams), " | ".join(cells)))
    totals = []
    for arch in archs:
        core, all_ = cost(arch, ["upyflow_native"]), cost(arch, every[arch])
        totals.append("%s: core %d / %d, all modules %d / %d" % (arch, core[0], core[1], all_[0], all_[1]))
    print("\n".join(rows))
    print("\nShipped modules (.mpy bytes / at import): " + "; ".join(totals) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
