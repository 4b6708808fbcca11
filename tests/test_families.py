"""One kernel family per operator, the same stem in every tier (issue 14).

A family is one file in each tier that implements it: native_modules/src/<f>.c,
device_lib/upyflow/kernels_pure/<f>.py, device_lib/upyflow/kernels_viper/<f>.py and the
lowering host_tools/upyflow_tools/lower/families/<f>.py. dtype and rounding variants (int16,
onnxruntime's "_ort") live in their operator's family. The tiers are read as files, so this
runs without MicroPython or the C extension.
"""

import ast
import re
from pathlib import Path

import pytest

from upyflow import dispatch
from upyflow.kernels_pure import FAMILIES as PURE_BY_FAMILY

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "native_modules" / "src"
PURE = ROOT / "device_lib" / "upyflow" / "kernels_pure"
VIPER = ROOT / "device_lib" / "upyflow" / "kernels_viper"
LOWER = ROOT / "host_tools" / "upyflow_tools" / "lower" / "families"

# The declared families (the lead's table in issue 14).
FAMILIES = {
    "fc",
    "conv",
    "transpose_conv",
    "pool",
    "softmax",
    "quantize",
    "elementwise",
    "reduce",
    "layout",
    "svdf",
    "lstm",
    "activations",
    "resize",
    "signal",
    "image",
}
# kernel -> family, from the generated maps (family -> its kernels)
PURE_FAMILIES = {k: f for f, names in PURE_BY_FAMILY.items() for k in names}
VIPER_FAMILIES = {k: f for f, names in dispatch.VIPER_FAMILIES.items() for k in names}
C_NOT_FAMILIES = {"table", "walker", "fmath"}  # the kernel table, the op-table walker, float maths some families share
NOT_LOWERED = {"image"}  # image_to_input is called by upyflow.image, not by a model op
HOST_ONLY = set()  # lowering modules of ops that only fold or vanish at bake time


def _stems(folder: Path, ext: str) -> set[str]:
    # a family is a file of its stem, or (a large one) a package of that name
    packages = {p.parent.name for p in folder.glob("*/__init__" + ext)}
    return ({p.stem for p in folder.glob("*" + ext)} | packages) - {"__init__"}


def _c_functions(path: Path) -> set[str]:
    """Names of the functions defined (not declared) at the top level of a C file."""
    return set(re.findall(r"^[A-Za-z_][\w \*]*?\b(\w+)\([^;{]*?\)\s*\{", path.read_text(), re.M | re.S))


def _py_top_level(path: Path) -> tuple[set[str], tuple]:
    """A Python file's top-level function names and its KERNELS tuple (empty if none)."""
    tree = ast.parse(path.read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    kernels = next(
        (
            ast.literal_eval(n.value)
            for n in tree.body
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "KERNELS" for t in n.targets)
        ),
        (),
    )
    return names, kernels


def _header_sections() -> dict[str, set[str]]:
    """kernels.h: family -> the uf_ functions declared under its `// <family>.c` heading."""
    sections: dict[str, set[str]] = {}
    family = None
    for line in (SRC / "kernels.h").read_text().splitlines():
        m = re.match(r"// (\w+)\.c\b", line)
        if m:
            family = m.group(1)
            sections.setdefault(family, set())
        elif not line.strip():
            family = None  # a section ends at the first blank line
        elif family and line.startswith("typedef "):
            continue  # a function type kernels are declared through (`uf_T_fn uf_a, uf_b;`)
        elif family:
            sections[family].update(re.findall(r"^\w[\w \*]*?\buf_(\w+)\(", line))
            if re.match(r"uf_\w+_fn ", line):
                sections[family].update(re.findall(r"\buf_(\w+)\s*[,;]", line))
    return sections


def test_every_tier_has_the_declared_stems():
    assert _stems(SRC, ".c") - C_NOT_FAMILIES == FAMILIES
    assert _stems(PURE, ".py") == FAMILIES
    assert set(PURE_FAMILIES.values()) == FAMILIES
    assert _stems(LOWER, ".py") - HOST_ONLY == FAMILIES - NOT_LOWERED
    # viper implements some families, each in the file of its stem
    assert set(VIPER_FAMILIES.values()) == _stems(VIPER, ".py")
    assert _stems(VIPER, ".py") <= FAMILIES


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pure_family_defines_its_kernels(family):
    import importlib

    mod = importlib.import_module("upyflow.kernels_pure." + family)
    want = {k for k, f in PURE_FAMILIES.items() if f == family}
    assert set(mod.KERNELS) == want
    for k in want:
        assert callable(getattr(mod, k)), k


@pytest.mark.parametrize("family", sorted(set(VIPER_FAMILIES.values())))
def test_viper_family_defines_its_kernels(family):
    names, kernels = _py_top_level(VIPER / (family + ".py"))
    want = {k for k, f in VIPER_FAMILIES.items() if f == family}
    assert set(kernels) == want
    assert want <= names
    # a viper kernel stands in for the pure kernel of the same name and family
    assert all(PURE_FAMILIES[k] == family for k in want)


def test_c_kernels_are_defined_in_their_family_file():
    sections = _header_sections()
    assert set(sections) - C_NOT_FAMILIES == FAMILIES
    declared = set().union(*sections.values())
    kernels = declared & set(PURE_FAMILIES)
    assert kernels, "no kernel prototypes found in kernels.h"
    for family, names in sections.items():
        defined = _c_functions(SRC / (family + ".c"))
        for name in names:
            assert "uf_" + name in defined, "uf_%s is declared under %s.c in kernels.h" % (name, family)
            if name in PURE_FAMILIES:
                assert PURE_FAMILIES[name] == family, name
    # every kernel of the C table (the dispatch names) is declared in kernels.h
    table = set(re.findall(r'^\s*\{"(\w+)",', (SRC / "table.c").read_text(), re.M))
    assert table and table <= kernels


def test_c_extension_kernels_are_in_their_family_file():
    native = pytest.importorskip("upyflow_native")
    for name in native.KERNELS:
        assert "uf_" + name in _c_functions(SRC / (PURE_FAMILIES[name] + ".c")), name


@pytest.mark.parametrize("family", sorted(FAMILIES - NOT_LOWERED))
def test_lowering_emits_its_familys_kernels(family):
    """A lowering module named after a family produces at least one of that family's kernels."""
    path = LOWER / (family + ".py")
    files = [path] if path.exists() else sorted((LOWER / family).glob("*.py"))  # a family package
    literals = set(re.findall(r'"(\w+)"', "".join(p.read_text() for p in files)))
    assert {k for k, f in PURE_FAMILIES.items() if f == family} & literals
