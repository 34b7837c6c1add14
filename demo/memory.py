"""How much memory the demo may keep, and how much an object holds.

The budgets come from environment variables (read by `Limits.from_environ`):

- ``GEOSAM2_DEMO_CACHE_MB``: rendered (and encoded) meshes shared by all users (default 1024);
- ``GEOSAM2_DEMO_STORE_MB``: the users' own states, their sessions (default 1024);
- ``GEOSAM2_DEMO_IDLE_MINUTES``: a user's state is dropped after this long unused (default 30);
- ``GEOSAM2_DEMO_MAX_FACES``: the largest mesh accepted (default 2,000,000 faces);
- ``GEOSAM2_FACE_BUDGET``: larger meshes are segmented on a decimated proxy of this many
  faces, downloads are of the full mesh (default 500,000; 0 = never; as the CLI).

A user's state counts its views in full even when they are shared with the
cache, so the server holds at most about CACHE + STORE on top of its own
baseline (bench/bench_demo_memory.py measures it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, is_dataclass

import numpy as np

from geosam2.geometry.proxy import DEFAULT_FACE_BUDGET, FACE_BUDGET_ENV, face_budget

MB = 1 << 20
_OWN_MODULES = ("geosam2", "demo", "scipy.sparse")  # objects whose attributes are followed


@dataclass(frozen=True)
class Limits:
    """Memory and size limits of one demo server.

    Attributes
    ----------
    cache_bytes : int, shared meshes (demo.meshes.MeshCache)
    store_bytes : int, users' states (demo.state.Store)
    idle_seconds : float, a user's state unused this long is dropped
    max_faces : int, largest mesh accepted
    face_budget : int, meshes with more faces are segmented on a decimated proxy of this
        many faces (downloads are of the full mesh); 0 = never
    """

    cache_bytes: int = 1024 * MB
    store_bytes: int = 1024 * MB
    idle_seconds: float = 30 * 60.0
    max_faces: int = 2_000_000
    face_budget: int = DEFAULT_FACE_BUDGET

    @classmethod
    def from_environ(cls, environ=os.environ) -> "Limits":
        """The limits the GEOSAM2_DEMO_* variables set (see the module docstring), defaults for the rest."""
        default = cls()

        def number(name: str, fallback: float) -> float:
            text = environ.get(name, "").strip()
            try:
                value = float(text) if text else fallback
            except ValueError:
                raise ValueError(f"{name}={text!r} is not a number: set it to a positive number or unset it.") from None
            if value <= 0:
                raise ValueError(f"{name}={text!r} must be positive.")
            return value

        return cls(
            cache_bytes=int(number("GEOSAM2_DEMO_CACHE_MB", default.cache_bytes / MB) * MB),
            store_bytes=int(number("GEOSAM2_DEMO_STORE_MB", default.store_bytes / MB) * MB),
            idle_seconds=number("GEOSAM2_DEMO_IDLE_MINUTES", default.idle_seconds / 60) * 60,
            max_faces=int(number("GEOSAM2_DEMO_MAX_FACES", default.max_faces)),
            face_budget=face_budget(environ.get(FACE_BUDGET_ENV) or None),
        )


def held_bytes(*roots) -> int:
    """Bytes of the numpy arrays and torch tensors reachable from `roots`, each counted once.

    Containers (list, tuple, dict, set) and the attributes of this project's
    objects (and of scipy sparse matrices) are followed; other objects, and
    networks (anything with a ``state_dict``), are not.
    """
    seen: set[int] = set()
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += obj.nbytes
        elif type(obj).__module__.startswith("torch") and hasattr(obj, "element_size"):  # a tensor, without importing torch
            total += obj.element_size() * obj.nelement()
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif type(obj).__module__.startswith(_OWN_MODULES) and not hasattr(obj, "state_dict"):  # not a network
            if is_dataclass(obj):
                stack.extend(getattr(obj, f.name) for f in fields(obj))
            stack.extend(getattr(obj, "__dict__", {}).values())
    return total
