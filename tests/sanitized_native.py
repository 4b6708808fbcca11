"""pytest plugin for tests/sanitize.py: the sanitized upyflow_native must be the one imported."""

import os


def pytest_configure(config):
    want = os.environ.get("UPYFLOW_NATIVE_DIR")
    if want:
        import upyflow_native

        got = os.path.dirname(os.path.abspath(upyflow_native.__file__))
        assert got == os.path.abspath(want), "upyflow_native came from %s, not %s" % (got, want)
