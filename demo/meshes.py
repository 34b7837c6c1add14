"""Rendered meshes shared by every user of the demo: an LRU over meshes, bounded in bytes.

A mesh is keyed by its file's content (SHA-256) and the render settings, so every
visitor of an example, and every upload of the same file, gets the same
`PreparedMesh`: read and rendered once and, with GeoSAM2, encoded once (the fused
features of its views are kept beside them, see `PreparedMesh.features`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from geosam2.io.digest import file_sha256
from geosam2.io.mesh import Mesh, load_mesh
from geosam2.geometry.proxy import DEFAULT_FACE_BUDGET, proxy_or_mesh
from geosam2.render import Views, render_views

from .images import base_images
from .memory import held_bytes


@dataclass(eq=False)
class PreparedMesh:
    """One mesh as every user of it shares it (read-only).

    Attributes
    ----------
    mesh : Mesh, the mesh segmented: the file's, or its decimated proxy above the face budget
    views : Views, of `mesh`, rendered at the key's resolution
    normal_maps : (V, H, W, 3) uint8, the views' normal-map images
    full : Mesh, the file's mesh (`mesh` itself when no proxy is used)
    """

    mesh: Mesh
    views: Views
    normal_maps: np.ndarray
    full: Mesh
    _features: object = None
    _encoding: threading.Lock = field(default_factory=threading.Lock)

    def features(self, encode):
        """The views' network features: ``encode(views)`` on first use, then the kept
        result. A second user asking meanwhile waits for that one encoding."""
        with self._encoding:
            if self._features is None:
                self._features = encode(self.views)
            return self._features

    @property
    def encoded(self) -> bool:
        """Whether the features were computed."""
        return self._features is not None

    @property
    def nbytes(self) -> int:
        """Bytes held: the views' and images' arrays and the features' tensors."""
        return held_bytes(self.views, self.normal_maps) + held_bytes(self._features)


class MeshCache:
    """Thread-safe LRU of `PreparedMesh` keyed by (file content, resolution).

    Parameters
    ----------
    max_bytes : int
        Least recently used meshes are dropped while the cache holds more (the
        most recent one is always kept). Users working on a dropped mesh keep it.
    max_faces : int
        Largest mesh accepted (see `geosam2.io.mesh.load_mesh`).
    face_budget : int
        Meshes with more faces are segmented on a proxy (see `geosam2.geometry.proxy.proxy_or_mesh`).
    """

    def __init__(self, max_bytes: int, max_faces: int, face_budget: int = DEFAULT_FACE_BUDGET):
        self.max_bytes = max_bytes
        self.max_faces = max_faces
        self.face_budget = face_budget
        self._meshes: OrderedDict[tuple, PreparedMesh] = OrderedDict()
        self._preparing: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, path: str, resolution: int) -> PreparedMesh:
        """The mesh in file `path` rendered at `resolution` px, prepared on first use
        (a second user asking meanwhile waits for it). Raises GeoSAM2Error for a
        file that is not a usable mesh."""
        key = (file_sha256(path), int(resolution))  # by content: Gradio copies a file anew for each page
        with self._lock:
            preparing = self._preparing.setdefault(key, threading.Lock())
        try:
            with preparing:
                with self._lock:
                    prepared = self._meshes.get(key)
                    if prepared is not None:
                        self._meshes.move_to_end(key)
                if prepared is None:
                    full = load_mesh(path, max_faces=self.max_faces)
                    mesh = proxy_or_mesh(full, self.face_budget)
                    views = render_views(mesh, resolution=int(resolution))
                    prepared = PreparedMesh(mesh, views, base_images(views), full)
                    with self._lock:
                        self._meshes[key] = prepared
        finally:
            with self._lock:
                self._preparing.pop(key, None)
        with self._lock:
            self._shrink()
        return prepared

    def _shrink(self) -> None:
        """Drop least recently used meshes while over budget (the lock is held)."""
        sizes = {key: prepared.nbytes for key, prepared in self._meshes.items()}
        while len(self._meshes) > 1 and sum(sizes.values()) > self.max_bytes:
            key, _ = self._meshes.popitem(last=False)
            del sizes[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._meshes)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached meshes."""
        with self._lock:
            return sum(prepared.nbytes for prepared in self._meshes.values())

