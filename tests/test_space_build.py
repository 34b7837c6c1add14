"""The Space's own build: `pip install -r requirements.txt` on a fresh venv, with no
environment prefix (no SAM2_BUILD_CUDA), gives a demo that imports and builds its page.

Part of the README's test command (and so of CI): it downloads several GB into a fresh venv
(about 7 minutes here, less with pip's cache warm). While iterating locally, skip it with
GEOSAM2_SKIP_SPACE_BUILD=1.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.factories import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("GEOSAM2_SKIP_SPACE_BUILD") == "1", reason="GEOSAM2_SKIP_SPACE_BUILD=1: the fresh-venv Space build is skipped"),
]

PAGE = "from demo.callbacks import DemoApp; from demo.layout import build_demo; from demo.model import SharedModel; build_demo(DemoApp(SharedModel()), preload=None)"


def test_requirements_alone_install_a_working_demo(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SAM2_", "PYTHON", "VIRTUAL_ENV"))}
    install = subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(REPO / "requirements.txt")], env=environ, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    check = subprocess.run([python, "-c", "import sam2.build_sam, pytorch3d, torch; " + PAGE], cwd=REPO, env=environ, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-3000:]
