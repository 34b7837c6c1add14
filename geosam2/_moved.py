"""Import paths of modules that moved into subpackages, kept working for outside code.

The official-parity tool (``../shared/tools/official-parity``) and scripts written
against the flat layout import e.g. ``geosam2.lift`` or ``geosam2.session``. The
finder below answers such an import with the module at its new place: the very
same module object, so a patch of ``geosam2.proposals.propose_masks`` is a patch
of ``geosam2.segmenters.proposals.propose_masks``. Nothing inside the project
imports an old path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

OLD_PATHS = {
    "geosam2.mesh": "geosam2.io.mesh",
    "geosam2.export": "geosam2.io.export",
    "geosam2.lift": "geosam2.lifting.lift",
    "geosam2.postprocess": "geosam2.lifting.cleanup",
    "geosam2.surface": "geosam2.lifting.surface",
    "geosam2.predictor": "geosam2.segmenters.geosam2",
    "geosam2.proposals": "geosam2.segmenters.proposals",
    "geosam2.prompts": "geosam2.segmenters.prompts",
    "geosam2.session": "geosam2.pipeline.session",
}
"""Old module path -> the module now holding the same names."""


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module):  # already executed: only give the module its own spec back
        module.__spec__ = self.own_spec


class MovedModules(importlib.abc.MetaPathFinder):
    """Finds the old paths of `OLD_PATHS`; every other import goes on as usual."""

    def find_spec(self, name, path=None, target=None):
        if name not in OLD_PATHS:
            return None
        return importlib.util.spec_from_loader(name, _Alias(OLD_PATHS[name]))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
