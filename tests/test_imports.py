"""Modules that do geometry only do not import torch (about 1.3 s of start-up for the
CLI, the demo's callbacks and exports); checked in a fresh interpreter."""

import os
import subprocess
import sys

GEOMETRY_MODULES = ("geosam2.io.export", "geosam2.pipeline.session", "geosam2.segmenters.geometry", "geosam2.training.curate", "geosam2.cli")


def test_geometry_modules_leave_torch_out():
    code = f"import sys; import {', '.join(GEOMETRY_MODULES)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_benchmarks_import_as_package_modules():
    """Every bench script imports as `bench.<script>` (they run as `python -m bench.<script>`):
    a script importing a sibling by its bare name fails here, not on the day it is run."""
    from pathlib import Path

    from tests.factories import REPO

    names = sorted(p.stem for p in Path(REPO, "bench").glob("bench_*.py"))
    code = "import importlib; [importlib.import_module('bench.' + n) for n in %r]" % names
    subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)


def test_readme_python_example_runs_with_geosam2_alone(tmp_path):
    """The README's Python example imports only from `geosam2` (its public face) and runs as
    it stands, from a folder where `assets/` is the repository's."""
    import re

    from tests.factories import REPO

    readme = (REPO / "README.md").read_text()
    example = readme.split("## Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert set(re.findall(r"^(?:from|import) (\S+)", example, flags=re.M)) == {"geosam2"}
    (tmp_path / "assets").symlink_to(REPO / "assets")
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's geosam2, wherever it is installed from
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "('grip'" in result.stdout and (tmp_path / "out" / "drill" / "drill_labels.json").is_file()
