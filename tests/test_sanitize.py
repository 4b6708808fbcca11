"""The native tests under ASan+UBSan (tests/sanitize.py): the quick subset here, the
full set with `make sanitize`. A report of either sanitizer fails the test."""

from __future__ import annotations

import subprocess

import pytest

import sanitize


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    cc = sanitize.compiler()
    if cc is None:
        pytest.skip("no C compiler with -fsanitize=address,undefined and libasan")
    out = tmp_path_factory.mktemp("asan")
    sanitize.build(cc, out)
    return cc, out


def test_native_tests_clean_under_asan_ubsan(build):
    cc, out = build
    rc, reports, tail = sanitize.run(sanitize.QUICK, out, cc)
    assert rc == 0 and not reports, reports[:4000] + tail
    assert " passed" in tail, tail


def test_sanitizer_sees_an_overflow(build, tmp_path):
    """The check itself: a signed overflow in C aborts with a UBSan report."""
    cc, _ = build
    src = tmp_path / "t.c"
    src.write_text(
        "#include <limits.h>\nint main(int argc, char **argv) { (void)argv;\n"
        "  int x = INT_MAX - 1 + argc; return x + argc > 0; }\n"
    )
    subprocess.run([cc, *sanitize.FLAGS, str(src), "-o", str(tmp_path / "t")], check=True)
    proc = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True)
    assert proc.returncode != 0 and "overflow" in proc.stderr
