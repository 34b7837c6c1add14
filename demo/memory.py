"""How much an object holds (the demo's memory budgets are settings: `geosam2.settings.Settings`).

The budgets (``GEOSAM2_DEMO_CACHE_MB``, ``GEOSAM2_DEMO_STORE_MB``,
``GEOSAM2_DEMO_IDLE_MINUTES``, with ``GEOSAM2_MAX_FACES`` and ``GEOSAM2_FACE_BUDGET``
as everywhere) are read by `Settings.from_env`. A user's state counts its views in
full even when they are shared with the cache, so the server holds at most about
CACHE + STORE on top of its own baseline (bench/bench_demo_memory.py measures it).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass

import numpy as np

_OWN_MODULES = ("geosam2", "demo", "scipy.sparse")  # objects whose attributes are followed


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
