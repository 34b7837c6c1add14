"""Modules that do geometry only do not import torch (about 1.3 s of start-up for the
CLI, the demo's callbacks and exports); checked in a fresh interpreter."""

import subprocess
import sys

GEOMETRY_MODULES = ("geosam2.io.export", "geosam2.pipeline.session", "geosam2.segmenters.geometry", "geosam2.training.curate", "geosam2.cli")


def test_geometry_modules_leave_torch_out():
    code = f"import sys; import {', '.join(GEOMETRY_MODULES)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
