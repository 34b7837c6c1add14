"""Segment a large mesh on a decimated proxy and carry the labels back to every face.

Above a face budget, rendering, lifting and clean-up run on a proxy made by
quadric edge-collapse decimation (``fast-simplification``); each face of the
full mesh then takes the label around the proxy vertices its corners collapsed
into, or near a boundary of the proxy's labels that of the closest proxy face,
and the labels are cleaned on the full mesh's own face graph so part boundaries
follow its faces. The exports are of the full mesh. The face budget is a setting
(`geosam2.settings.Settings.face_budget`); `geosam2.pipeline.workspace.Workspace`
decides and carries the labels back (:func:`proxy_or_mesh`, :func:`transfer_labels`).

The decimation's collapses (:func:`collapse_map`) say which full face each proxy
face was and which proxy vertex each full vertex became: at 10M faces this
replaces a search for the closest face of every proxy face and of nearly every
full face (most of the minutes the proxy took).

The transfer never splits a connected piece of the full mesh (a component of its
welded faces) that the proxy's labels do not split: each face takes its label
from the proxy faces of its own piece (those that were faces of it), a piece that
decimation removed entirely takes one label for all its faces (the one most of
its area finds nearest), and the clean-up leaves pieces of one label as they
are. 4,000 separate small boxes through a proxy of 5,000 faces split 2,719
boxes between parts before this rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .facegraph import weld_vertices
from ..errors import GeoSAM2Error
from ..io.mesh import Mesh, triangle_normals
from ..lifting.cleanup import clean_labels

CLOSEST_CANDIDATES = 6  # proxy surface samples whose faces are tried for the closest face
FACING_WEIGHT = 0.1  # normalised units per unit of normal difference: facing apart counts as 0.2 farther
GROUP_SPACING = 4.0  # normalised units between groups in the candidate search: more than the frame's diagonal (at most 3 ** 0.5) and the facing term


class ProxyError(GeoSAM2Error):
    """A mesh cannot be decimated to the face budget asked for."""


def needs_proxy(mesh: Mesh, budget: int) -> bool:
    """Whether `mesh` has more faces than a positive `budget`."""
    return budget > 0 and mesh.num_faces > budget


@dataclass(frozen=True, eq=False)
class ProxyMap:
    """Where a proxy's faces come from in the full mesh (:func:`decimate`).

    Attributes
    ----------
    sources : (P,) int64, the full face under each proxy face: the face that
        decimation turned into it (or, when the collapses are not known, the full
        face closest to its centroid facing its way, :func:`closest_faces`)
    corners : (F, 3) int32 or None, the proxy vertex each corner of each full face
        was collapsed into (-1: a vertex left without faces), None when unknown
    """

    sources: np.ndarray
    corners: np.ndarray | None = None


def decimate(mesh: Mesh, target_faces: int) -> tuple[Mesh, ProxyMap]:
    """A proxy of `mesh` with about `target_faces` faces, in the same normalised
    frame (same ``to_file``), by quadric decimation of the welded mesh (vertices
    closer than the weld tolerance merged, so seams of UV charts do not stop it),
    and its `ProxyMap`: the full face each proxy face comes from, whose
    ``part_ids`` the proxy face takes, and the proxy vertex of every corner of the
    full mesh (:func:`collapse_map`). The proxy may keep more faces where collapses
    would leave degenerate triangles (long thin ones: an assembly of subdivided
    trimesh cylinders of 1.8M faces stopped at 477k faces for a target of 100k)."""
    import fast_simplification

    welded = weld_vertices(mesh.vertices, mesh.faces)
    points = np.zeros((welded.max() + 1, 3))
    points[welded] = mesh.triangles  # the cached corners: no (F, 3, 3) copy
    vertices, faces, collapses = fast_simplification.simplify(
        points, welded.astype(np.int32), target_count=target_faces, return_collapses=True
    )
    del points
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise ProxyError(f"Decimating '{mesh.name}' to {target_faces:,} faces left none: give a larger face budget (or 0: no proxy).")
    proxy_map = collapse_map(welded, np.asarray(collapses, np.int64).reshape(-1, 2), faces)
    if proxy_map is None:  # the collapses do not give the proxy's faces: find the full faces under them
        triangles = vertices[faces]
        proxy_map = ProxyMap(closest_faces(mesh.triangles, triangles.mean(axis=1), normals=triangle_normals(triangles)))
    proxy = Mesh(
        vertices=vertices,
        faces=faces,
        part_ids=mesh.part_ids[proxy_map.sources],
        part_names=mesh.part_names,
        to_file=mesh.to_file,
        name=mesh.name,
    )
    return proxy, proxy_map


def collapse_map(welded: np.ndarray, collapses: np.ndarray, proxy_faces: np.ndarray) -> ProxyMap | None:
    """The `ProxyMap` of a decimation of (F, 3) int `welded` faces by (C, 2) int
    `collapses` (``[i0, i1]``: vertex i1 merged into i0, in order) into (P, 3) int
    `proxy_faces`, or None when they do not agree.

    Each vertex ends in the vertex its chain of collapses leads to; a face stays
    (becomes a proxy face) unless two of its distinct corners end in one vertex;
    the vertices the staying faces use are the proxy's, numbered in their order,
    and the staying faces are the proxy's faces in their order. This is checked:
    a decimation that did otherwise gives None (then :func:`decimate` finds the
    sources by distance)."""
    end = np.arange(welded.max(initial=-1) + 1)
    end[collapses[:, 1]] = collapses[:, 0]
    while True:  # follow the chains, doubling the steps each round
        further = end[end]
        if np.array_equal(further, end):
            break
        end = further
    ends = end[welded]
    stays = _distinct_corners(ends) == _distinct_corners(welded)
    on_proxy = np.zeros(len(end), bool)
    on_proxy[ends[stays]] = True
    index = np.where(on_proxy, np.cumsum(on_proxy) - 1, -1)
    if not np.array_equal(index[ends[stays]], proxy_faces):
        return None
    return ProxyMap(np.flatnonzero(stays), index[ends].astype(np.int32))


def _distinct_corners(faces: np.ndarray) -> np.ndarray:
    """(F,) int number of distinct vertices of each of (F, 3) `faces`."""
    a, b, c = faces.T
    return 3 - (a == b) - ((c == a) | (c == b))


def candidate_faces(
    triangles: np.ndarray,
    points: np.ndarray,
    k: int = CLOSEST_CANDIDATES,
    seed: int = 0,
    normals: np.ndarray | None = None,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """(P, k) int64 triangles of (T, 3, 3) `triangles` near each of (P, 3) `points`:
    those of the `k` nearest surface samples, nearest first. The samples are each
    triangle's centroid and as many points again spread over the surface by
    area, so a large triangle is found from anywhere on it (its centroid alone
    may be far). With the points' (P, 3) unit `normals`, (P, 2k): then also those
    of the `k` nearest samples with the normals as three more coordinates scaled
    by `FACING_WEIGHT`, so that a coarse surface facing the point's way is found
    beside a finely sampled one facing away (see :func:`closest_faces`). With
    `groups` ((T,) int group of each triangle, (P,) int group of each point), the
    group times `GROUP_SPACING` is one more coordinate: a point's candidates are
    of its own group first (those of other groups only when its group has fewer
    than k samples)."""
    rng = np.random.default_rng(seed)
    areas = 0.5 * np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
    spread = rng.choice(len(triangles), len(triangles), p=areas / areas.sum()) if areas.sum() > 0 else np.zeros(0, int)
    weights = rng.dirichlet(np.ones(3), len(spread))
    owner = np.concatenate([np.arange(len(triangles)), spread])
    samples = np.concatenate([triangles.mean(axis=1), np.einsum("ij,ijk->ik", weights, triangles[spread])])
    if groups is not None:
        samples = np.column_stack([samples, GROUP_SPACING * groups[0][owner]])
        points = np.column_stack([points, GROUP_SPACING * groups[1]])
    k = min(k, len(samples))
    _, nearest = cKDTree(samples).query(points, k=k, workers=-1)
    if normals is not None:
        facing_samples = np.column_stack([samples, FACING_WEIGHT * triangle_normals(triangles)[owner]])
        _, facing = cKDTree(facing_samples).query(np.column_stack([points, FACING_WEIGHT * normals]), k=k, workers=-1)
        nearest = np.column_stack([nearest.reshape(len(points), k), facing.reshape(len(points), k)])
    return owner[nearest.reshape(len(points), -1)]


def closest_candidate(triangles: np.ndarray, points: np.ndarray, candidates: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
    """(P,) int64 the triangle among each point's (P, k) `candidates` closest to it
    (with (P, 3) unit `normals`: the distance plus `FACING_WEIGHT` times the
    difference of the normals, see :func:`closest_faces`)."""
    facing = None if normals is None else triangle_normals(triangles)  # once, not per candidate column
    distances = []
    for c in candidates.T:
        distance = _point_triangle_distance(points, triangles[c])
        if normals is not None:
            distance += FACING_WEIGHT * np.linalg.norm(normals - facing[c], axis=1)
        distances.append(distance)
    return candidates[np.arange(len(points)), np.argmin(np.stack(distances, axis=1), axis=1)]


def closest_faces(triangles: np.ndarray, points: np.ndarray, k: int = CLOSEST_CANDIDATES, normals: np.ndarray | None = None) -> np.ndarray:
    """(P,) int64 index of the triangle of (T, 3, 3) `triangles` closest to each of
    (P, 3) `points`, among its :func:`candidate_faces`.

    With (P, 3) unit `normals` (the faces the points lie on), a triangle facing
    another way counts as farther, by `FACING_WEIGHT` times the difference of the
    normals (0.2 normalised units for opposite faces): surfaces that coincide but
    face apart (a lamp's base resting on a table top, the two sides of a thin
    sheet) keep their own faces. On a 296k-face assembly whose lamp base lies in
    the table top, carrying labels to a 100k-face proxy and back kept 98.25 % of
    the area by distance alone, 100 % with the facing."""
    candidates = candidate_faces(triangles, points, k, normals=normals)
    return closest_candidate(triangles, points, candidates, normals)


def _point_triangle_distance(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(P,) distance from each of (P, 3) `points` to its (P, 3, 3) triangle: to the
    plane when the projection falls inside, else to the nearest edge."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    normal = np.cross(b - a, c - a)
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
    height = np.einsum("ij,ij->i", points - a, normal)
    projected = points - height[:, None] * normal
    inside = np.ones(len(points), bool)
    for p, q in ((a, b), (b, c), (c, a)):
        inside &= np.einsum("ij,ij->i", np.cross(q - p, projected - p), normal) >= 0
    edges = np.stack([_segment_distance(points, p, q) for p, q in ((a, b), (b, c), (c, a))], axis=1).min(axis=1)
    return np.where(inside & (length[:, 0] > 0), np.abs(height), edges)


def _segment_distance(points: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(P,) distance from (P, 3) `points` to the segments from (P, 3) `p` to `q`."""
    direction = q - p
    squared = np.einsum("ij,ij->i", direction, direction)
    t = np.divide(np.einsum("ij,ij->i", points - p, direction), squared, out=np.zeros(len(p)), where=squared > 0)
    return np.linalg.norm(points - (p + np.clip(t, 0, 1)[:, None] * direction), axis=1)


def _nearest_labels(proxy: Mesh, proxy_labels: np.ndarray, points: np.ndarray, normals: np.ndarray, groups=None) -> np.ndarray:
    """(P,) labels of the proxy faces closest to (P, 3) `points` facing their
    (P, 3) `normals` (measured only where the candidate faces disagree); with
    `groups` ((proxy faces' groups, points' groups), see :func:`candidate_faces`),
    among the faces of each point's own group, which must hold some."""
    candidates = candidate_faces(proxy.triangles, points, normals=normals, groups=groups)
    if groups is not None:  # a group of fewer than k samples: its own first candidate instead of other groups'
        foreign = groups[0][candidates] != groups[1][:, None]
        candidates = np.where(foreign, candidates[:, :1], candidates)
    labels = proxy_labels[candidates[:, 0]]
    mixed = (proxy_labels[candidates] != labels[:, None]).any(axis=1)  # near a boundary: find the closest face
    labels[mixed] = proxy_labels[closest_candidate(proxy.triangles, points[mixed], candidates[mixed], normals[mixed])]
    return labels


def _majority_per_piece(pieces: np.ndarray, labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """(F,) the label holding most of the area of each face's piece ((F,) `pieces`,
    `labels`, `areas`; ties and zero areas: the larger face count, then the smaller label)."""
    pairs, inverse = np.unique(np.column_stack([pieces, labels]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    area, count = np.bincount(inverse, weights=areas), np.bincount(inverse)
    order = np.lexsort((pairs[:, 1], -count, -area, pairs[:, 0]))  # per piece, its best pair first
    first = order[np.r_[True, pairs[order[1:], 0] != pairs[order[:-1], 0]]]
    best = np.zeros(pieces.max(initial=-1) + 1, labels.dtype)
    best[pairs[first, 0]] = pairs[first, 1]
    return best[pieces]


def uniform_pieces(pieces: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(F,) bool whether each face's piece ((F,) int `pieces`) holds one label only."""
    count = pieces.max(initial=-1) + 1
    low, high = np.full(count, np.iinfo(np.int64).max), np.full(count, np.iinfo(np.int64).min)
    np.minimum.at(low, pieces, labels)
    np.maximum.at(high, pieces, labels)
    return (low == high)[pieces]


def transfer_labels(
    proxy: Mesh, proxy_labels: np.ndarray, mesh: Mesh, pa: float, profile: str, proxy_map: ProxyMap | None = None
) -> np.ndarray:
    """(F,) int32 labels of the full `mesh` from (P,) `proxy_labels` of its proxy.

    Each face takes its label from the proxy faces of its own connected piece
    (``mesh.graph.pieces``; a proxy face lies on the piece of its `proxy_map`
    source, :func:`decimate`'s, found by distance when None): the label around
    the proxy vertices its corners collapsed into when those agree
    (:func:`labels_by_corners`), else the label of the proxy face closest to
    its centroid and facing its way (:func:`closest_faces`). The faces of a
    piece without proxy faces (removed by decimation) all take the label most of
    its area finds nearest. Then stray pieces (relative size below `pa`) are
    cleared and refilled on the full mesh by the clean-up of `profile` (the
    session's, "official" or "improved": `geosam2.lifting.cleanup.clean_labels`;
    part ids kept, with "improved" each label's largest piece kept; faces
    unlabelled on the proxy stay unlabelled), except on pieces of one label,
    which stay whole."""
    proxy_labels = np.asarray(proxy_labels, np.int32)
    if proxy_map is None:
        proxy_map = ProxyMap(closest_faces(mesh.triangles, proxy.centroids, normals=proxy.face_normals))
    pieces = mesh.graph.pieces
    labels, decided = labels_by_corners(proxy, proxy_labels, proxy_map, pieces)
    if not decided.all():
        labels[~decided] = _labels_by_distance(proxy, proxy_labels, mesh, pieces[proxy_map.sources], ~decided)
    cleaned = clean_labels(mesh, labels, pa, fill_unlabelled=False, split_disconnected=False, keep_largest_piece=True, profile=profile)
    whole = uniform_pieces(pieces, labels)
    cleaned[whole] = labels[whole]
    return cleaned


def labels_by_corners(proxy: Mesh, proxy_labels: np.ndarray, proxy_map: ProxyMap, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) int32 labels of the full faces whose corners tell them, and (F,) bool
    which those are: the faces whose three corners collapsed into proxy vertices
    (``proxy_map.corners``) around which every proxy face has one label and lies
    on the face's own piece ((F,) `pieces`; a proxy face's is its source's). The
    others (near a boundary of the proxy's labels, or without known corners) are
    left to the closest proxy face: at 10M faces this spares the search for all
    but a few percent of them."""
    labels = np.full(len(pieces), -1, np.int32)
    corners = proxy_map.corners
    if corners is None:
        return labels, np.zeros(len(pieces), bool)
    lowest = int(proxy_labels.min())
    stride = int(proxy_labels.max()) - lowest + 1
    face_keys = pieces[proxy_map.sources].astype(np.int64) * stride + (proxy_labels - lowest)  # (piece, label) as one number
    corner_keys = np.repeat(face_keys, 3)
    low = np.full(proxy.vertices.shape[0], np.iinfo(np.int64).max)
    high = np.full(proxy.vertices.shape[0], -1)
    np.minimum.at(low, proxy.faces.reshape(-1), corner_keys)
    np.maximum.at(high, proxy.faces.reshape(-1), corner_keys)
    vertex_keys = np.append(np.where(low == high, low, -1), -1)  # -1: mixed, or (last) no proxy vertex
    key = vertex_keys[corners[:, 0]]
    decided = (key >= 0) & (vertex_keys[corners[:, 1]] == key) & (vertex_keys[corners[:, 2]] == key)
    decided &= key // stride == pieces
    labels[decided] = key[decided] % stride + lowest
    return labels, decided


def _labels_by_distance(proxy: Mesh, proxy_labels: np.ndarray, mesh: Mesh, proxy_pieces: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """(K,) int32 labels of the (F,) bool `chosen` faces of `mesh` by the closest proxy
    face of their own piece ((P,) `proxy_pieces` of the proxy faces); the chosen
    faces of a piece without proxy faces (all of its faces) take the label most of
    their area finds nearest."""
    pieces = mesh.graph.pieces[chosen]
    on_proxy = np.zeros(mesh.graph.pieces.max() + 1, bool)
    on_proxy[proxy_pieces] = True
    kept = on_proxy[pieces]
    triangles = mesh.triangles[chosen]
    centroids, normals = triangles.mean(axis=1), triangle_normals(triangles)
    labels = np.empty(len(pieces), np.int32)
    labels[kept] = _nearest_labels(proxy, proxy_labels, centroids[kept], normals[kept], (proxy_pieces, pieces[kept]))
    if not kept.all():
        lost = ~kept
        nearest = _nearest_labels(proxy, proxy_labels, centroids[lost], normals[lost])
        labels[lost] = _majority_per_piece(pieces[lost], nearest, mesh.face_areas[chosen][lost])
    return labels


def proxy_or_mesh(mesh: Mesh, budget: int) -> tuple[Mesh, ProxyMap | None]:
    """The mesh to segment and its `ProxyMap`: a proxy of `budget` faces
    (:func:`decimate`) when `mesh` has more, else (`mesh`, None)."""
    return decimate(mesh, budget) if needs_proxy(mesh, budget) else (mesh, None)
