"""Test configuration: an isolated on-disk cache, and a helper to run the real console script."""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

# Every test (and every subprocess it starts) uses a private cache, never the user's.
_CACHE = tempfile.mkdtemp(prefix="iclc-test-cache-")
os.environ["ICLC_CACHE_DIR"] = _CACHE


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)


def _iclc_command():
    exe = shutil.which("iclc")
    if exe:
        return [exe]
    return [sys.executable, "-m", "icl_companion.cli"]


@pytest.fixture
def iclc(tmp_path):
    """Run the installed ``iclc`` console script in a subprocess (cwd = a temporary folder)."""

    def run(*args, timeout=600, cwd=None):
        return subprocess.run(_iclc_command() + [str(a) for a in args], capture_output=True,
                              text=True, timeout=timeout, cwd=cwd or tmp_path)

    return run
