"""Rendered meshes shared by every user of the demo: an LRU over meshes, bounded in bytes.

A mesh is keyed by its file's content (SHA-256) and the render settings, so every
visitor of an example, and every upload of the same file, gets the same
`PreparedMesh`: read and rendered once and, with GeoSAM2, encoded once (the fused
features of its views are kept beside them, see `PreparedMesh.features`).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from geosam2.errors import GeoSAM2Error
from geosam2.io.digest import file_sha256
from geosam2.io.export import parts_scene
from geosam2.io.limits import TooManyFacesError
from geosam2.io.mesh import Y_UP_EXTENSIONS, Y_UP_TO_Z_UP, Mesh, transform_points
from geosam2.pipeline.workspace import Workpiece
from geosam2.render import Views, render_views
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.settings import Settings

from .images import base_images
from .memory import held_bytes


@dataclass(eq=False)
class PreparedMesh:
    """One mesh as every user of it shares it (read-only).

    Attributes
    ----------
    workpiece : Workpiece, the file's mesh and the mesh segmented (its decimated
        proxy above the face budget; see geosam2.pipeline.workspace)
    views : Views, of the segmented mesh, rendered at the key's resolution
    normal_maps : (V, H, W, 3) uint8, the views' normal-map images
    """

    workpiece: Workpiece
    views: Views
    normal_maps: np.ndarray
    _features: object = None
    _encoding: threading.Lock = field(default_factory=threading.Lock)
    _look: str | None = None
    _writing: threading.Lock = field(default_factory=threading.Lock)
    _geometry: GeometrySegmenter | None = None
    _binding: threading.Lock = field(default_factory=threading.Lock)

    def geometry_segmenter(self) -> GeometrySegmenter:
        """The offline geometry segmenter bound to the mesh, its hierarchy of parts built
        (on first use: ~10-25 s for the 200k faces of the generated example on 2 busy
        cores), shared by every user of the mesh: it only reads its caches afterwards."""
        with self._binding:
            if self._geometry is None:
                segmenter = GeometrySegmenter().bind(self.mesh)
                segmenter.levels()  # built now, under the lock: never lazily by two users at once
                self._geometry = segmenter
            return self._geometry

    def look(self, folder: Path) -> str:
        """Path of a GLB of the segmented mesh with the input's appearance (textures,
        colours) in the frame of the views (`viewer_frame`), written into `folder`
        on first use (~3 s for the drill's textures), then shared by every user."""
        with self._writing:
            if self._look is None:
                path = Path(folder) / f"{self.mesh.name}_look_{next(_LOOKS)}.glb"
                mesh = viewer_frame(self.mesh)
                parts_scene(mesh, np.full(mesh.num_faces, -1, np.int32), ()).export(str(path))
                self._look = str(path)
            return self._look

    def forget_look(self) -> None:
        """Remove the look's file (when the mesh leaves the cache; users were sent copies)."""
        if self._look is not None and os.path.exists(self._look):
            os.remove(self._look)

    def features(self, encode):
        """The views' network features: ``encode(views)`` on first use, then the kept
        result. A second user asking meanwhile waits for that one encoding."""
        with self._encoding:
            if self._features is None:
                self._features = encode(self.views)
            return self._features

    @property
    def mesh(self) -> Mesh:
        """The mesh segmented (the file's, or its proxy)."""
        return self.workpiece.segmented

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
    settings : Settings
        ``cache_bytes``: least recently used meshes are dropped while the cache
        holds more (the most recent one is always kept; users working on a dropped
        mesh keep it); ``demo_max_faces`` and ``face_budget``: the largest mesh accepted,
        and above which faces a mesh is segmented on a proxy (`Workpiece.load`).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.max_bytes = settings.cache_bytes
        self._meshes: OrderedDict[tuple, PreparedMesh] = OrderedDict()
        self._preparing: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, path: str, resolution: int, up: str = "") -> PreparedMesh:
        """The mesh in file `path` rendered at `resolution` px with up axis `up` (see
        `load_mesh_workpiece`), prepared on first use (a second user asking meanwhile
        waits for it). Raises GeoSAM2Error for a file that is not a usable mesh."""
        key = (file_sha256(path), int(resolution), up)  # by content: Gradio copies a file anew for each page
        with self._lock:
            preparing = self._preparing.setdefault(key, threading.Lock())
        try:
            with preparing:
                with self._lock:
                    prepared = self._meshes.get(key)
                    if prepared is not None:
                        self._meshes.move_to_end(key)
                if prepared is None:
                    workpiece = load_mesh_workpiece(path, self.settings, up)
                    views = render_views(workpiece.segmented, resolution=int(resolution))
                    prepared = PreparedMesh(workpiece, views, base_images(views))
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
            key, dropped = self._meshes.popitem(last=False)
            dropped.forget_look()
            del sizes[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._meshes)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached meshes."""
        with self._lock:
            return sum(prepared.nbytes for prepared in self._meshes.values())


_LOOKS = itertools.count()  # numbers the look files: a mesh's name may come back with another content
Z_UP_TO_Y_UP = np.linalg.inv(Y_UP_TO_Z_UP)
Y_UP, Z_UP = "y", "z"


def viewer_frame(mesh: Mesh) -> Mesh:
    """`mesh` to write for the 3D view: in the frame of the views (normalised, the up
    axis the views have), turned Z-up to glTF's Y-up, whatever its file's frame."""
    return replace(mesh, to_file=Z_UP_TO_Y_UP)
UP_AXES = (Y_UP, Z_UP)  # "" (the default): as the loader reads the file type


def file_up_axis(path: str) -> str:
    """The up axis the loader reads a file with: Y for glTF and OBJ, Z for the others."""
    return Y_UP if path.lower().endswith(Y_UP_EXTENSIONS) else Z_UP


def with_up_axis(mesh: Mesh, read_as: str, up: str) -> Mesh:
    """`mesh`, read with its file's up axis `read_as`, as if read with `up` instead:
    turned a quarter about X (its bounding box stays centred and of the same size),
    its frame back to the file (`Mesh.to_file`) turned with it."""
    if up == read_as:
        return mesh
    turn = Z_UP_TO_Y_UP if up == Z_UP else Y_UP_TO_Z_UP
    return replace(mesh, vertices=transform_points(mesh.vertices, turn), to_file=mesh.to_file @ np.linalg.inv(turn))


def load_mesh_workpiece(path: str, settings: Settings, up: str = "") -> Workpiece:
    """The workpiece of the mesh in `path` (`Workpiece.load`), with up axis `up` (one of
    UP_AXES; "" as the loader reads the file type); a point cloud, and a mesh above the
    demo's face limit (`settings.demo_max_faces`, or the machine's `max_faces` if lower),
    are refused with a GeoSAM2Error worded for a visitor."""
    try:
        workpiece = Workpiece.load(path, settings.with_values(max_faces=min(settings.max_faces, settings.demo_max_faces)))
    except TooManyFacesError as exc:
        raise GeoSAM2Error(
            f"'{exc.name}' has {exc.faces:,} faces, more than this demo's limit of {exc.limit:,}: simplify it first "
            "(e.g. Blender's Decimate modifier), or run GeoSAM2 on your own machine (see the project's README)."
        ) from exc
    if workpiece.is_point_cloud:
        raise GeoSAM2Error(
            f"'{workpiece.full.name}' is a point cloud (no triangles): the demo segments meshes; "
            "segment point clouds with `geosam2 segment FILE --checkpoint geosam2.pt ...`."
        )
    read_as = file_up_axis(Path(path).name)
    if not up or up == read_as:
        return workpiece
    full = with_up_axis(workpiece.full, read_as, up)
    segmented = full if not workpiece.on_proxy else with_up_axis(workpiece.segmented, read_as, up)
    return Workpiece(full, segmented, workpiece.proxy_map)  # the turn keeps every index
