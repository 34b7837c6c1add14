"""Training-data curation: per-face part labels from an artist mesh's own structure.

The paper's recipe, as named stages:

1. decompose: a part per connected piece of each scene geometry of the file;
2. split: a part made of far-apart chunks joined only by thin faces (slivers)
   is cut so every part is physically continuous;
3. merge: while there are more than `max_parts` parts, the smallest part joins
   the adjacent part it shares the longest boundary with (or, when it touches
   none, the part whose centre is nearest).

Objects that cannot be used (unreadable files, no faces, a single part) are
skipped and reported, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ..errors import GeoSAM2Error
from ..geometry.facegraph import FaceGraph, face_graph
from ..io.mesh import MESH_EXTENSIONS, Mesh, load_mesh

MAX_PARTS = 15
THIN_QUALITY = 0.1  # triangle quality 4*sqrt(3)*area / sum(edge^2) below this = a sliver
THIN_AREA_FRACTION = 0.1  # slivers may only be cut away when they are at most this share of the part
FAR_DISTANCE = 0.05  # chunks further apart than this (normalised units) are separate parts


@dataclass(frozen=True)
class Curated:
    """Curation result of one object.

    Attributes
    ----------
    labels : (F,) int32
        Part label per face, 0..P-1, numbered by decreasing part area.
    stats : dict
        JSON-serialisable counts per stage and part areas.
    """

    labels: np.ndarray
    stats: dict


def triangle_quality(mesh: Mesh) -> np.ndarray:
    """(F,) float64 in [0, 1]: 1 for an equilateral triangle, 0 for a degenerate one."""
    t = mesh.triangles
    squared = sum(((t[:, i] - t[:, (i + 1) % 3]) ** 2).sum(axis=1) for i in range(3))
    return np.divide(4.0 * np.sqrt(3.0) * mesh.face_areas, squared, out=np.zeros(len(t)), where=squared > 0)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """(F,) int32 labels made consecutive from 0, keeping order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.reshape(-1)].astype(np.int32)


def decompose(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(F,) int32 part per connected piece of each scene geometry (mesh.part_ids)."""
    return _renumber(graph.label_components(mesh.part_ids))


def _cluster_close(points: np.ndarray, groups: np.ndarray, distance: float) -> np.ndarray:
    """Single-linkage clusters of point groups closer than about `distance`.

    Points are binned in cubic cells of side `distance`; two groups join when
    they occupy the same or neighbouring cells (so any gap below `distance`
    joins, gaps above 2*sqrt(3)*distance never do).

    Parameters
    ----------
    points : (N, 3) float64
    groups : (N,) int
        Group id per point, 0..G-1.

    Returns
    -------
    (G,) int32 cluster id per group.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    num_groups = int(groups.max()) + 1
    cells = np.floor(points / distance).astype(np.int64)
    cells -= cells.min(axis=0) - 1  # >= 1, so neighbours stay >= 0
    span = int(cells.max()) + 2
    keys = (cells[:, 0] * span + cells[:, 1]) * span + cells[:, 2]
    occupied = np.unique(keys)
    # bipartite graph groups <-> occupied cells: a group links to its own cells
    # and to the occupied cells next to them
    rows, cols = [], []
    for dx, dy, dz in np.ndindex(3, 3, 3):
        shifted = keys + ((dx - 1) * span + (dy - 1)) * span + (dz - 1)
        index = np.minimum(np.searchsorted(occupied, shifted), len(occupied) - 1)
        found = occupied[index] == shifted
        rows.append(groups[found])
        cols.append(num_groups + index[found])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    size = num_groups + len(occupied)
    graph = coo_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(size, size))
    return connected_components(graph, directed=False)[1][:num_groups].astype(np.int32)


def split_far_chunks(
    mesh: Mesh,
    graph: FaceGraph,
    labels: np.ndarray,
    far_distance: float = FAR_DISTANCE,
    thin_quality: float = THIN_QUALITY,
    thin_area_fraction: float = THIN_AREA_FRACTION,
) -> np.ndarray:
    """Cut parts whose chunks are far apart and joined only by sliver faces.

    In each part, sliver faces (quality < `thin_quality`) are set aside when
    they cover at most `thin_area_fraction` of the part's area; the remaining
    faces form connected chunks, and chunks closer than `far_distance` are kept
    together. With more than one cluster the part is split, and each sliver
    joins the cluster of its nearest non-sliver face centroid.

    Returns
    -------
    (F,) int32 consecutive labels.
    """
    quality = triangle_quality(mesh)
    areas = mesh.face_areas
    out = labels.astype(np.int64).copy()
    next_label = int(labels.max()) + 1
    for part in np.unique(labels):
        faces = np.flatnonzero(labels == part)
        thin = quality[faces] < thin_quality
        if areas[faces[thin]].sum() > thin_area_fraction * areas[faces].sum():
            thin[:] = False
        core = faces[~thin]
        if len(core) < 2:
            continue
        core_label = np.full(mesh.num_faces, -1, np.int64)
        core_label[core] = part
        chunks = graph.label_components(core_label)[core]
        _, chunks = np.unique(chunks, return_inverse=True)
        if chunks.max() == 0:
            continue
        corners = mesh.triangles[core].reshape(-1, 3)
        samples = np.concatenate([corners, mesh.centroids[core]])
        sample_chunks = np.concatenate([np.repeat(chunks, 3), chunks])
        clusters = _cluster_close(samples, sample_chunks, far_distance)[chunks]
        if clusters.max() == 0:
            continue
        cluster_of = np.empty(mesh.num_faces, np.int64)
        cluster_of[core] = clusters
        slivers = faces[thin]
        if len(slivers):
            _, nearest = cKDTree(mesh.centroids[core]).query(mesh.centroids[slivers])
            cluster_of[slivers] = clusters[nearest]
        for c in range(1, int(clusters.max()) + 1):
            out[faces[cluster_of[faces] == c]] = next_label
            next_label += 1
    return _renumber(out)


def merge_small_parts(mesh: Mesh, graph: FaceGraph, labels: np.ndarray, max_parts: int = MAX_PARTS) -> np.ndarray:
    """Merge parts until at most `max_parts` remain.

    Repeatedly the smallest part (by area) joins the adjacent part it shares the
    most edges with; a part touching no other joins the part whose
    area-weighted centre is nearest.

    Returns
    -------
    (F,) int32 consecutive labels.
    """
    labels = _renumber(labels)
    num = int(labels.max()) + 1
    if num <= max_parts:
        return labels
    areas = mesh.face_areas
    part_area = np.bincount(labels, areas, minlength=num)
    weights = np.maximum(part_area, 1e-30)[:, None]
    part_centre = np.stack([np.bincount(labels, areas * mesh.centroids[:, k], minlength=num) for k in range(3)], 1) / weights
    a, b = labels[graph.pairs[:, 0]], labels[graph.pairs[:, 1]]
    cross = a != b
    neighbours: list[dict[int, int]] = [dict() for _ in range(num)]
    pairs, counts = np.unique(np.sort(np.stack([a[cross], b[cross]], 1), axis=1), axis=0, return_counts=True)
    for (i, j), n in zip(pairs.tolist(), counts.tolist()):
        neighbours[i][j] = n
        neighbours[j][i] = n
    target = np.arange(num)  # merged part -> part it went into (followed to the root)
    alive = np.ones(num, bool)
    for _ in range(num - max_parts):
        small = int(np.flatnonzero(alive)[np.argmin(part_area[alive])])
        alive[small] = False
        if neighbours[small]:
            into = max(neighbours[small], key=lambda p: (neighbours[small][p], -p))
        else:
            candidates = np.flatnonzero(alive)
            into = int(candidates[np.argmin(np.linalg.norm(part_centre[candidates] - part_centre[small], axis=1))])
        total = part_area[small] + part_area[into]
        part_centre[into] = (part_centre[into] * part_area[into] + part_centre[small] * part_area[small]) / max(total, 1e-30)
        part_area[into] = total
        target[small] = into
        for other, n in neighbours[small].items():
            del neighbours[other][small]
            if other != into:
                neighbours[other][into] = neighbours[other].get(into, 0) + n
                neighbours[into][other] = neighbours[into].get(other, 0) + n
        neighbours[small] = {}
    root = np.arange(num)
    for p in range(num):
        while target[root[p]] != root[p]:
            root[p] = target[root[p]]
    return _renumber(root[labels])


def _order_by_area(labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Relabel so part 0 is the largest by area."""
    part_area = np.bincount(labels, areas)
    rank = np.empty(len(part_area), np.int32)
    rank[np.argsort(-part_area, kind="stable")] = np.arange(len(part_area))
    return rank[labels]


def curate_mesh(
    mesh: Mesh,
    max_parts: int = MAX_PARTS,
    far_distance: float = FAR_DISTANCE,
    thin_quality: float = THIN_QUALITY,
    thin_area_fraction: float = THIN_AREA_FRACTION,
) -> Curated:
    """Part labels of one mesh: decompose, split far chunks, merge down to `max_parts`."""
    graph = face_graph(mesh)
    pieces = decompose(mesh, graph)
    split = split_far_chunks(mesh, graph, pieces, far_distance, thin_quality, thin_area_fraction)
    merged = merge_small_parts(mesh, graph, split, max_parts)
    labels = _order_by_area(merged, mesh.face_areas)
    part_area = np.bincount(labels, mesh.face_areas)
    stats = {
        "faces": mesh.num_faces,
        "geometries": int(mesh.part_ids.max()) + 1,
        "pieces": int(pieces.max()) + 1,
        "after_split": int(split.max()) + 1,
        "parts": int(labels.max()) + 1,
        "part_faces": np.bincount(labels).tolist(),
        "part_area_fraction": (part_area / part_area.sum()).round(6).tolist(),
    }
    return Curated(labels, stats)


def preview_image(mesh: Mesh, labels: np.ndarray, resolution: int = 128, views=(0, 3, 6, 9)) -> np.ndarray:
    """(resolution, len(views) * resolution, 3) uint8: normal-shaded renders coloured by part."""
    from ..render import render_views
    from ..render.rig import official_rig

    rig = official_rig(mesh.bbox_size, resolution=resolution)
    rendered = render_views(mesh, rig)
    palette = np.random.default_rng(0).integers(40, 256, (int(labels.max()) + 1, 3))
    light = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    tiles = []
    for v in views:
        ids = rendered.face_ids[v % rig.num_views]
        shade = 0.45 + 0.55 * np.abs(rendered.normals[v % rig.num_views] @ light)
        tile = np.full(ids.shape + (3,), 255, np.uint8)
        hit = ids >= 0
        tile[hit] = (palette[labels[ids[hit]]] * shade[hit][:, None]).astype(np.uint8)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


def curate_directory(
    mesh_dir: str | Path,
    out_dir: str | Path,
    max_parts: int = MAX_PARTS,
    preview_resolution: int = 128,
    max_faces: int | None = None,
    **options,
) -> dict:
    """Curate every mesh file under `mesh_dir` into `out_dir`.

    Writes, per usable object `<out_dir>/<name>/`: `labels.npy` ((F,) int32),
    `stats.json` (with the source path) and `preview.png`; and
    `<out_dir>/curation.json` listing kept objects and skipped ones with the reason.
    Meshes above `max_faces` faces (default `geosam2.io.mesh.load_mesh`'s) are skipped.

    Returns
    -------
    dict with "kept" (list of names) and "skipped" (list of {"file", "reason"}).
    """
    from PIL import Image

    mesh_dir, out_dir = Path(mesh_dir), Path(out_dir)
    files = sorted(p for p in mesh_dir.rglob("*") if p.suffix.lower() in MESH_EXTENSIONS and p.is_file())
    report = {"kept": [], "skipped": []}
    for path in files:
        name = path.relative_to(mesh_dir).with_suffix("").as_posix().replace("/", "__")
        try:
            mesh = load_mesh(path, max_faces)
            curated = curate_mesh(mesh, max_parts=max_parts, **options)
        except GeoSAM2Error as exc:
            report["skipped"].append({"file": str(path), "reason": str(exc)})
            continue
        except Exception as exc:  # a broken file must not stop the run
            report["skipped"].append({"file": str(path), "reason": f"{type(exc).__name__}: {exc}"})
            continue
        if curated.stats["parts"] < 2:
            report["skipped"].append({"file": str(path), "reason": "only one part: nothing to segment"})
            continue
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "labels.npy", curated.labels)
        (folder / "stats.json").write_text(json.dumps({"source": str(path.resolve()), **curated.stats}, indent=1))
        Image.fromarray(preview_image(mesh, curated.labels, preview_resolution)).save(folder / "preview.png")
        report["kept"].append(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "curation.json").write_text(json.dumps(report, indent=1))
    return report
