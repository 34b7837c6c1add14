"""Write a part labelling of a mesh for download, in the input file's own frame and units.

Files (named after ``mesh.name``, see :func:`export_mesh`):

- ``<name>_parts.glb``: the preview, the mesh coloured by part: one node per
  part (then ``unlabelled``) named after the part, whose material, named after it
  too, has the part's colour as base colour. A vertex is shared by the faces of
  one part and duplicated only where parts meet. No vertex colours: glTF viewers
  multiply them with the base colour. Faces are grouped by node, so they are not
  in the input order: see :func:`preview_face_order` (the labels files are).
- ``<name>_scene.glb``: a scene with one node per part, named after the part,
  nested as the parts tree (a refined part's node is a child of its parent's).
- ``<name>_parts.zip``: per part ``<part>.glb`` (its textures cropped to the
  texels its faces use, `geosam2.io.texturecrop`), and ``<part>.obj`` with its
  ``<part>.mtl``; the OBJs share one file per texture (``texture_<k>.<ext>``).
- ``<name>_labels.npy``: (F,) int32 part id per face, -1 = unlabelled.
- ``<name>_labels.json``: the labels and the parts tree (id, name, colour,
  parent, faces, area share), on one line.

The scene and the per-part files keep the input's appearance: each face keeps
the UVs, material, texture and vertex colours of the scene geometry it came
from (``Mesh.visuals``), vertices stay shared as in the input, and a part whose
faces come from several input geometries gets one child node per geometry
(``<part>.<geometry>``) so each keeps its own material. Faces of an input
without any appearance get a material of their part's colour. A part's own
file holds its faces in increasing face order.

Names: ``<name>`` and ``<part>`` are file-safe stems of the mesh and part names
(`geosam2.io.filenames`: at most NAME_CAP characters, unique); child nodes are
``<part>.<geometry>`` with the geometry's file-safe name. OBJ and MTL files name
objects, materials and textures themselves (`geosam2.io.objwriter`): no name from
the input file is written into them.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Sequence

import numpy as np
import trimesh

from .filenames import UNLABELLED_NAME, safe_stem, unique_stems
from .mesh import Mesh
from .objwriter import TextureFiles, part_obj
from .palette import UNLABELLED_COLOR
from .texturecrop import ENCODER_SETTINGS, TEXTURE_FIELDS, cropped_visual
from ..pipeline.parts import Part, part_color, parts_with_stats

TEXTURE_ATTRIBUTES = ("image",) + TEXTURE_FIELDS


def default_parts(mesh: Mesh, labels: np.ndarray) -> tuple:
    """Flat parts tree for plain (F,) labels: one Part per distinct label >= 0."""
    ids = np.unique(labels[labels >= 0])
    parts = [Part(int(i), f"part_{i}", part_color(int(i))) for i in ids]
    return parts_with_stats(parts, labels, mesh.face_areas)


def _color_of(part: Part | None) -> np.ndarray:
    """(4,) uint8 RGBA colour of a part's faces (grey for the unlabelled ones, `part` None)."""
    return UNLABELLED_COLOR if part is None else np.asarray(part.color, np.uint8)


def _file_names(parts: Sequence[Part]) -> dict:
    """Part id -> a unique, file-safe name derived from its name (`unique_stems`)."""
    return unique_stems(((p.id, p.name, f"part_{p.id}") for p in parts), taken=(UNLABELLED_NAME,))


def _geometry_names(mesh: Mesh) -> list:
    """A unique, file-safe name per input geometry (indexed by part id)."""
    stems = unique_stems((piece, name, f"geometry_{piece}") for piece, name in enumerate(mesh.part_names))
    return [stems[piece] for piece in range(len(mesh.part_names))]


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


def preview_face_order(labels: np.ndarray, parts: Sequence[Part]) -> np.ndarray:
    """(F,) int input face index of each face of the preview ``<name>_parts.glb``,
    in the file's face order: the faces of each part in the order of `parts`
    (parts without faces skipped), then the unlabelled faces, increasing inside
    each. ``values[preview_face_order(...)] = file_values`` puts per-face values
    read from the preview (nodes concatenated in file order) back in input order."""
    return np.concatenate([faces for _, _, faces in _groups(labels, parts)])


def write_colored_glb(path, mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> None:
    """The preview: one node per part owning faces, then ``unlabelled``, each with
    the part's faces (see `preview_face_order`) and a material named after the
    part whose base colour is the part's. A vertex is shared by the faces of one
    part and duplicated once per part among the faces around it. No vertex
    colours: glTF viewers multiply them with the base colour (gradio's viewer
    then shows a (242, 60, 60) part in (233, 21, 30) instead of (236, 72, 84))."""
    scene = trimesh.Scene()
    file_vertices = mesh.file_vertices()
    for name, part, faces in _groups(labels, parts):
        vertices, corners = np.unique(mesh.faces[faces], return_inverse=True)
        visual = _color_material(name, _color_of(part))
        geometry = trimesh.Trimesh(file_vertices[vertices], corners.reshape(-1, 3), visual=visual, process=False)
        scene.add_geometry(geometry, node_name=name, geom_name=name)
    scene.export(os.fspath(path), file_type="glb")


def preview_face_colors(path, labels: np.ndarray, parts: Sequence[Part]) -> np.ndarray:
    """(F, 4) uint8 colour of each face in the preview at `path`, written for
    `labels` and `parts` (its material's base colour), in the input face order.
    Nodes are found by name: trimesh lists them in another order than the file's."""
    scene = trimesh.load_scene(os.fspath(path), process=False)
    colors = np.empty((len(labels), 4), np.uint8)
    for name, _, faces in _groups(labels, parts):
        colors[faces] = scene.geometry[scene.graph[name][1]].visual.material.baseColorFactor
    return colors


def _piece_visual(mesh: Mesh, piece: int, faces: np.ndarray, vertices: np.ndarray, name: str, color) -> trimesh.visual.Visuals:
    """The appearance of input geometry `piece` restricted to its listed `faces`
    (global face indices) and their `vertices` (sorted global vertex indices):
    the input's UVs, material and vertex or face colours, or without any, a
    material `name` of the part's RGBA `color`."""
    if not mesh.visuals:
        return _color_material(name, color)
    first_vertex, source = mesh.visuals[piece]
    local = vertices - first_vertex
    if isinstance(source, trimesh.visual.TextureVisuals):
        uv = None if source.uv is None else np.asarray(source.uv)[local]
        _reencode_quickly(source.material)
        visual = trimesh.visual.TextureVisuals(uv=uv, material=source.material)
        if "color" in source.vertex_attributes:
            visual.vertex_attributes["color"] = np.asarray(source.vertex_attributes["color"])[local]
        return visual
    if source.kind == "vertex":
        return trimesh.visual.ColorVisuals(vertex_colors=np.asarray(source.vertex_colors)[local])
    if source.kind == "face":
        first_face = np.searchsorted(mesh.part_ids, piece)  # geometries are concatenated in order
        return trimesh.visual.ColorVisuals(face_colors=np.asarray(source.face_colors)[faces - first_face])
    return _color_material(name, color)


def _reencode_quickly(material) -> None:
    """Set how Pillow re-encodes the textures of `material` (`ENCODER_SETTINGS`)."""
    for attribute in TEXTURE_ATTRIBUTES:
        image = getattr(material, attribute, None)
        settings = ENCODER_SETTINGS.get(getattr(image, "format", None))
        if settings:
            image.encoderinfo = settings


def _color_material(name: str, color) -> trimesh.visual.TextureVisuals:
    """A visual without UVs whose material `name` has the base colour RGBA uint8 `color`."""
    return trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(name=name, baseColorFactor=color))


def _part_geometries(mesh: Mesh, faces: np.ndarray, name: str, color, file_vertices: np.ndarray) -> list:
    """(file-safe input geometry name, trimesh.Trimesh in the file frame) per input geometry
    holding some of part `name`'s `faces`, with the input's vertex sharing and
    appearance (or a material of the part's `color`); face colours get their own
    vertices per face so they stay exact."""
    geometries, geometry_names = [], _geometry_names(mesh)
    for piece in np.unique(mesh.part_ids[faces]):
        own = faces[mesh.part_ids[faces] == piece]
        vertices, corners = np.unique(mesh.faces[own], return_inverse=True)
        visual = _piece_visual(mesh, int(piece), own, vertices, name, color)
        geometry = trimesh.Trimesh(
            file_vertices[vertices], corners.reshape(-1, 3), visual=visual, process=False
        )
        if visual.kind == "face":
            geometry.unmerge_vertices()
        geometries.append((geometry_names[piece], geometry))
    return geometries


def _add_part(scene: trimesh.Scene, name: str, geometries: list, parent: str | None) -> None:
    """Add one node `name` under `parent` holding the part's geometry, or with
    one child node ``<name>.<input geometry>`` per geometry when it has several."""
    if len(geometries) > 1:
        scene.graph.update(frame_from=parent or scene.graph.base_frame, frame_to=name)
        parent = name
    for node, (_, geometry) in zip(_node_names(name, geometries), geometries):
        scene.add_geometry(geometry, node_name=node, geom_name=node, parent_node_name=parent)


def parts_scene(mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> trimesh.Scene:
    """A scene with one node per part owning faces (named after the file-safe part
    name), child parts under their parent's node, and an ``unlabelled`` node."""
    scene = trimesh.Scene()
    file_vertices = mesh.file_vertices()
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
        geometries = _part_geometries(mesh, faces, name, _color_of(part), file_vertices)
        _add_part(scene, name, geometries, None if parent is None else names[parent])
        added.add(name)
    return scene


def _node_names(name: str, geometries: list) -> list:
    """The node name of each of a part's (geometry name, geometry) pairs (see `_add_part`)."""
    return [name] if len(geometries) == 1 else [f"{name}.{source}" for source, _ in geometries]


def _with_cropped_textures(geometries: list) -> list:
    """(geometry name, geometry) pairs whose textures hold only their faces' texels."""
    cropped = []
    for source, geometry in geometries:
        visual = cropped_visual(geometry.visual, np.asarray(geometry.faces))
        cropped.append((source, trimesh.Trimesh(geometry.vertices, geometry.faces, visual=visual, process=False)))
    return cropped


def write_parts_zip(path, mesh: Mesh, labels: np.ndarray, parts: Sequence[Part]) -> None:
    """A ZIP with ``<part>.glb`` and ``<part>.obj`` + ``<part>.mtl`` per part and
    for the unlabelled faces, and one ``texture_<k>.<ext>`` per texture the OBJs use."""
    file_vertices = mesh.file_vertices()
    textures = TextureFiles()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:  # level 6: 6x the time for 9 % less (500k faces)
        for name, part, faces in _groups(labels, parts):
            geometries = _part_geometries(mesh, faces, name, _color_of(part), file_vertices)
            scene = trimesh.Scene()
            _add_part(scene, name, _with_cropped_textures(geometries), None)
            archive.writestr(f"{name}.glb", scene.export(file_type="glb"))
            objects = list(zip(_node_names(name, geometries), (geometry for _, geometry in geometries)))
            for file_name, data in part_obj(name, objects, textures).items():
                archive.writestr(file_name, data)
        for file_name, data in textures.files.items():
            archive.writestr(file_name, data)


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
        The parts tree (e.g. ``Session.parts``), sorted by id; face counts and
        area shares are recomputed from `labels` (they may come from a proxy).
        By default one top-level part per distinct label.

    Returns
    -------
    {"glb", "scene", "zip", "npy", "json"} -> path of each file written.
    """
    labels = np.asarray(labels, np.int32)
    if labels.shape != (mesh.num_faces,):
        raise ValueError(f"labels must have shape ({mesh.num_faces},), got {labels.shape}")
    parts = default_parts(mesh, labels) if parts is None else parts_with_stats(parts, labels, mesh.face_areas)
    missing = set(np.unique(labels[labels >= 0]).tolist()) - {p.id for p in parts}
    if missing:
        raise ValueError(f"labels use part ids {sorted(missing)} that are not in parts")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(os.fspath(folder), safe_stem(mesh.name, "mesh"))
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
        f.write(json.dumps(labels_summary(mesh, labels, parts)))  # one line, in one go: only then is the C encoder used (5x faster)
    return paths

