"""One file from loading to exports: load, segment a proxy or the mesh, label every face, export.

The command line (`geosam2 segment`, `segment-many`), the demo and the Python API
all go this one way::

    workpiece = Workpiece.load("chair.glb", settings)      # one loader, the face limit
    workspace = Workspace(workpiece, segmenter, settings)  # the Session, on a proxy above the budget
    workspace.session.add_part(prompt)
    workspace.export("out/")                                # labels of every face of the file's mesh

Above the face budget (`Settings.face_budget`) the session works on a decimated
proxy (`geosam2.geometry.proxy`) and the workspace carries its labels back to
every face of the file's mesh with the clean-up of the session's profile; it is
the only caller of that transfer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..geometry.proxy import ProxyMap, proxy_or_mesh, transfer_labels
from ..io.export import export_mesh
from ..io.filenames import safe_stem
from ..io.mesh import Mesh
from ..io.pointcloud import PointCloud
from ..io.pointexport import export_point_cloud
from ..io.pointreaders import load_geometry
from ..settings import Settings
from .prompt_levels import add_prompt_levels
from .session import Session


@dataclass(frozen=True, eq=False)
class Workpiece:
    """A file's geometry and what is segmented of it (read-only, shareable).

    Attributes
    ----------
    full : Mesh or PointCloud, as the file holds it (the exports label it)
    segmented : Mesh or PointCloud, what sessions work on: `full`, or its decimated
        proxy when `full` is a mesh above the face budget
    proxy_map : ProxyMap or None, on a proxy: where its faces come from in `full`
        (`geosam2.geometry.proxy.decimate`), which the label transfer reads
    """

    full: Mesh | PointCloud
    segmented: Mesh | PointCloud
    proxy_map: ProxyMap | None = None

    @classmethod
    def load(cls, source: str | os.PathLike | Mesh | PointCloud, settings: Settings) -> "Workpiece":
        """The workpiece of a file (read by `geosam2.io.pointreaders.load_geometry`, meshes
        above `settings.max_faces` refused) or of an already loaded Mesh / PointCloud;
        a mesh above `settings.face_budget` faces is segmented on a proxy of that many.
        Raises MeshLoadError, EmptyMeshError, MeshTooLargeError as the loaders do."""
        full = source if isinstance(source, (Mesh, PointCloud)) else load_geometry(source, settings.max_faces)
        if isinstance(full, PointCloud):
            return cls(full, full)
        return cls(full, *proxy_or_mesh(full, settings.face_budget))

    @property
    def on_proxy(self) -> bool:
        """Whether the segmented geometry is a proxy of the full mesh."""
        return self.segmented is not self.full

    @property
    def is_point_cloud(self) -> bool:
        return isinstance(self.full, PointCloud)


class Workspace:
    """A part session over one workpiece, with the labels and exports of the full geometry.

    Parameters
    ----------
    source : Workpiece, a file path, or a loaded Mesh / PointCloud (loaded by `Workpiece.load`)
    segmenter : Segmenter (see `geosam2.pipeline.session.Session`)
    settings : Settings (resolution, PA, samples per face, face budget and limit, profile)
    views : Views, optional, already rendered views of the segmented geometry
        (then `settings.resolution` is not used)

    Attributes
    ----------
    workpiece : Workpiece
    session : Session, over ``workpiece.segmented``
    settings : Settings, the current ones (`set_pa` changes PA)
    """

    def __init__(self, source, segmenter, settings: Settings = Settings(), views=None):
        self.settings = settings
        self.workpiece = source if isinstance(source, Workpiece) else Workpiece.load(source, self.settings)
        self.session = Session(
            self.workpiece.segmented,
            segmenter,
            resolution=self.settings.resolution,
            pa=self.settings.pa,
            samples_per_face=self.settings.samples_per_face,
            views=views,
            profile=self.settings.profile,
        )
        self._transferred: tuple = (None, None, None)  # (session labels, pa, full labels) of the last transfer

    @property
    def full(self) -> Mesh | PointCloud:
        """The file's geometry, which the labels and exports are of."""
        return self.workpiece.full

    def set_pa(self, pa: float) -> None:
        """Clean up the next parts (and the transfer to the full mesh) with threshold `pa`."""
        self.settings = self.settings.with_values(pa=float(pa))
        self.session.pa = self.settings.pa

    def add_prompt_levels(self, levels) -> tuple:
        """Add prompt files' parts as a parts tree (`geosam2.io.prompt_files.read_prompt_levels`
        gives `levels`, coarsest first, on views of ``settings.resolution`` px); returns one
        `geosam2.pipeline.prompt_levels.LevelParts` per level (its parts and notes)."""
        return add_prompt_levels(self.session, levels)

    def labels(self) -> np.ndarray:
        """(F,) int32 part id of every face of the full mesh ((N,) per point of a point
        cloud), -1 = unlabelled: the session's labels, or those of its proxy carried
        to the full mesh (`geosam2.geometry.proxy.transfer_labels`, cleaned with the
        session's profile; computed once per labelling)."""
        labels = self.session.labels
        if not self.workpiece.on_proxy:
            return np.asarray(labels, np.int32)
        source, pa, full = self._transferred
        if source is not labels or pa != self.session.pa:
            workpiece = self.workpiece
            full = transfer_labels(workpiece.segmented, labels, self.full, self.session.pa, self.session.profile, workpiece.proxy_map)
            self._transferred = (labels, self.session.pa, full)
        return full

    def levels(self) -> np.ndarray | None:
        """(L, F) int32 part labels of the full mesh per level of the segmenter's hierarchy
        of parts, coarse to fine (each level carried from a proxy as `labels` is), or None
        when the segmenter has no hierarchy (`Segmenter.levels`)."""
        levels = self.session.segmenter.levels()
        if levels is None or not self.workpiece.on_proxy:
            return levels
        workpiece, pa, profile = self.workpiece, self.session.pa, self.session.profile
        return np.stack([transfer_labels(workpiece.segmented, level, self.full, pa, profile, workpiece.proxy_map) for level in levels])

    def export_levels(self, folder: str | os.PathLike) -> str | None:
        """Write `levels` as ``<mesh>_levels.npy`` ((L, F) int32, coarse to fine, -1 =
        none) into `folder` beside the other exports; returns its path, or None when the
        segmenter has no hierarchy."""
        levels = self.levels()
        if levels is None:
            return None
        path = Path(folder) / f"{safe_stem(self.full.name, 'mesh')}_levels.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, levels.astype(np.int32))
        return str(path)

    def export(self, folder: str | os.PathLike) -> dict[str, str]:
        """Write the exports of the full geometry into `folder` (created): the mesh's
        (`geosam2.io.export.export_mesh`) or the point cloud's
        (`geosam2.io.pointexport.export_point_cloud`); returns their paths by kind."""
        if self.workpiece.is_point_cloud:
            labels = self.session.labels  # names by label 0..max; ids no part holds any more keep a default name
            names = {p.id: p.name for p in self.session.parts}
            part_names = [names.get(i, f"part_{i}") for i in range(int(labels.max(initial=-1)) + 1)]
            return export_point_cloud(self.full, labels, folder, part_names)
        return export_mesh(self.full, self.labels(), folder, self.session.parts)
