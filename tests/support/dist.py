"""The package's wheel, built once for a test run: for the walkthroughs that install it in
a fresh virtualenv (tests/example/test_readme_walkthrough.py,
tests/testing/test_docs_example.py)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

BUILD_TIMEOUT = 300  # seconds


@pytest.fixture(scope="session")
def package_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the package's wheel: the one ``make test-wheel`` tests (the folder
    ``CHATKIT_TEST_DIST``), or one built from the source tree once for the test run (every
    xdist worker's walkthrough installs it). Built under a lock: two builds at once in the
    one source tree collide in its ``build/`` folder."""
    if os.environ.get("CHATKIT_TEST_DIST"):
        return Path(os.environ["CHATKIT_TEST_DIST"])
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    dist = shared / "package-dist"
    with (shared / "package-dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not list(dist.glob("django_openai_chatkit-*.whl")):
            pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
            subprocess.run(
                [*pip_wheel, "--wheel-dir", str(dist), str(ROOT)],
                check=True,
                timeout=BUILD_TIMEOUT,
            )
    return dist
