"""Write a part labelling of a mesh for download, in the input file's own frame and units.

Files (named after ``mesh.name``, see :func:`export_mesh`):

- ``<name>_parts.glb``: the mesh coloured by part. glTF stores colours per
  vertex, so every face gets its own three vertices: colours never blur across
  part boundaries and each face's colour is exactly its part's.
- ``<name>_scene.glb``: a scene with one node per part, named after the part,
  nested as the parts tree (a refined part's node is a child of its parent's).
- ``<name>_parts.zip``: one ``<part name>.glb`` and ``<part name>.obj`` per part.
- ``<name>_labels.npy``: (F,) int32 part id per face, -1 = unlabelled.
- ``<name>_labels.json``: the labels and the parts tree (id, name, colour,
  parent, faces, area share).

Faces keep the input's face order in the coloured GLB and the labels; a part's
own file holds its faces in increasing face order.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from typing import Sequence

import numpy as np
import trimesh

from .mesh import Mesh
from .palette import UNLABELLED_COLOR
from .parts import Part, part_color, parts_with_stats

UNLABELLED_NAME = "unlabelled"


def default_parts(mesh: Mesh, labels: np.ndarray) -> tuple:
    """Flat parts tree for plain (F,) labels: one Part per distinct label >= 0."""
    ids = np.unique(labels[labels >= 0])
    parts = [Part(int(i), f"part_{i}", part_color(int(i))) for i in ids]
    return parts_with_stats(parts, labels, mesh.face_areas)


def _face_colors(labels: np.ndarray, parts: Sequence[Part]) -> np.ndarray:
    """(F, 4) uint8 colour of each face's part (grey when unlabelled)."""
    colors = np.tile(UNLABELLED_COLOR, (len(labels), 1))
    for p in parts:
        colors[labels == p.id] = p.color
    return colors


def _unmerged(mesh: Mesh, faces: np.ndarray, colors: np.ndarray) -> trimesh.Trimesh:
    """The listed faces in the file frame with three own vertices each, coloured per face."""
    corners = mesh.file_vertices()[mesh.faces[faces]].reshape(-1, 3)
    geometry = trimesh.Trimesh(corners, np.arange(len(corners)).reshape(-1, 3), process=False)
    geometry.visual.face_colors = colors
    return geometry


def _file_names(parts: Sequence[Part]) -> dict:
    """Part id -> a unique, file-system-safe name derived from its name."""
    names, used = {}, {UNLABELLED_NAME}
    for p in parts:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", p.name).strip("._") or f"part_{p.id}"
        name = base if base not in used else f"{base}_{p.id}"
        used.add(name)
        names[p.id] = name
    return names


def _groups(labels: np.ndarray, parts: Sequence[Part]):
    """(file name, part or None, (K,) face indices) per part owning faces, then the unlabelled faces."""
    names = _file_names(parts)
    for p in parts:
        faces = np.flatnonzero(labels == p.id)
        if len(faces):
            yield names[p.id], p, faces
    unlabelled = np.flatnonzero(labels < 0)
    if len(unlabelled):
        yield UNLABELLED_NAME, None, unlabelled


def write_colored_glb(path, mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> None:
    """One mesh, every face coloured by its part, faces in the input order."""
    geometry = _unmerged(mesh, np.arange(mesh.num_faces), _face_colors(labels, parts))
    geometry.export(os.fspath(path), file_type="glb")


def parts_scene(mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> trimesh.Scene:
    """A scene with one node per part owning faces (named after the file-safe part
    name), child parts under their parent's node, and an ``unlabelled`` node."""
    scene = trimesh.Scene()
    colors = _face_colors(labels, parts)
    by_id = {p.id: p for p in parts}
    names = _file_names(parts)
    pending = list(_groups(labels, parts))
    added: set = set()
    while pending:  # parents before children
        name, part, faces = pending.pop(0)
        parent = None if part is None else part.parent
        while parent is not None and not (parent in by_id and (labels == parent).any()):
            parent = by_id[parent].parent if parent in by_id else None  # an emptied parent has no node
        if parent is not None and names.get(parent) not in added:
            pending.append((name, part, faces))
            continue
        scene.add_geometry(
            _unmerged(mesh, faces, colors[faces]),
            node_name=name,
            geom_name=name,
            parent_node_name=None if parent is None else names[parent],
        )
        added.add(name)
    return scene


def write_parts_zip(path, mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> None:
    """A ZIP with ``<part>.glb`` and ``<part>.obj`` per part (and for the unlabelled faces)."""
    colors = _face_colors(labels, parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, _, faces in _groups(labels, parts):
            geometry = _unmerged(mesh, faces, colors[faces])
            archive.writestr(f"{name}.glb", geometry.export(file_type="glb"))
            archive.writestr(f"{name}.obj", geometry.export(file_type="obj", include_color=True))


def labels_summary(mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> dict:
    """The JSON record: mesh name, face count, labels and the parts tree."""
    return {
        "mesh": mesh.name,
        "num_faces": mesh.num_faces,
        "unlabelled_faces": int((labels < 0).sum()),
        "parts": [
            {
                "id": p.id,
                "name": p.name,
                "file_name": name,
                "color": list(p.color),
                "parent": p.parent,
                "faces": p.faces,
                "area_share": p.area_share,
            }
            for p, name in zip(parts, _file_names(parts).values())
        ],
        "labels": labels.tolist(),
    }


def export_mesh(mesh: Mesh, labels: np.ndarray, folder, parts: Sequence[Part] | None = None) -> dict:
    """Write every export of a labelled mesh into `folder` (created).

    Parameters
    ----------
    mesh : Mesh
    labels : (F,) int
        Part id per face, -1 = unlabelled.
    folder : output folder
    parts : sequence of Part, optional
        The parts tree (e.g. ``Session.parts``); by default one top-level part
        per distinct label.

    Returns
    -------
    {"glb", "scene", "zip", "npy", "json"} -> path of each file written.
    """
    labels = np.asarray(labels, np.int32)
    if labels.shape != (mesh.num_faces,):
        raise ValueError(f"labels must have shape ({mesh.num_faces},), got {labels.shape}")
    parts = default_parts(mesh, labels) if parts is None else tuple(parts)
    missing = set(np.unique(labels[labels >= 0]).tolist()) - {p.id for p in parts}
    if missing:
        raise ValueError(f"labels use part ids {sorted(missing)} that are not in parts")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(os.fspath(folder), mesh.name)
    paths = {
        "glb": stem + "_parts.glb",
        "scene": stem + "_scene.glb",
        "zip": stem + "_parts.zip",
        "npy": stem + "_labels.npy",
        "json": stem + "_labels.json",
    }
    write_colored_glb(paths["glb"], mesh, labels, parts)
    parts_scene(mesh, labels, parts).export(paths["scene"], file_type="glb")
    write_parts_zip(paths["zip"], mesh, labels, parts)
    np.save(paths["npy"], labels)
    with open(paths["json"], "w") as f:
        json.dump(labels_summary(mesh, labels, parts), f, indent=1)
    return paths

