"""host_tools has no import cycle: the graph of which module imports which (read from the
source with ast, imports inside functions included: a lazy import still ties two modules
together) is acyclic. The oracle is the source text, not an import at run time."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "upyflow_tools"
SRC = ROOT / "host_tools" / PACKAGE


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by __init__)."""
    out = {}
    for path in SRC.rglob("*.py"):
        parts = (PACKAGE,) + path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports: `from a import b` counts a.b when that is
    a module (a submodule), else a."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = base + "." + node.module if node.module else base
            else:
                base = node.module or ""
            full = [(base + "." + a.name).lstrip(".") for a in node.names]
            targets = [f if f in known else base for f in full]
        else:
            continue
        for t in targets:
            while t and t not in known:   # `import a.b.c` names a.b.c; a name inside a module: its module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_host_tools_has_no_import_cycle():
    mods = modules()
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}
    assert sum(len(v) for v in graph.values()) > 50   # the graph was read (not empty by a bug)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_a_cycle():
    """The checker itself: a planted cycle (the one PTQ once had: bake -> quantize -> bake)."""
    assert find_cycle({"bake": {"quantize", "ir"}, "quantize": {"bake"}, "ir": set()}) == \
        ["bake", "quantize", "bake"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_relative_imports_resolve(tmp_path):
    """`from . import x` names the submodule x; `from .a import f` names module a."""
    pkg = tmp_path / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f(): pass\n")
    (pkg / "x.py").write_text("")
    (pkg / "b.py").write_text("from . import x\nfrom .a import f\n\ndef g():\n    from .. import p\n")
    known = {"p", "p.a", "p.b", "p.x"}
    assert imports("p.b", pkg / "b.py", known) == {"p.x", "p.a", "p"}
