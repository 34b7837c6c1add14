"""Faces no view labelled that belong with a labelled face straight through the solid.

Distances run along paths of face centroids that either step to an adjacent face or
cross the object's material in a straight line: from a face, against its outward
normal, to the face where that line leaves the solid (the first face it hits, from
behind, on the same connected piece; none from a face buried inside a solid, as an
artist's box sunk into another). A face whose nearest labelled face (multi-source
Dijkstra) is nearer with these lines than over the surface alone takes its label;
the other faces are left to the fill over the adjacency
(`geosam2.lifting.cleanup.fill_labels`, whose majority of neighbours is steadier
where both paths are equal).

Why through the solid: a piece of material belongs to one part. On an artist mesh
the hidden faces of a piece sit on the same separate piece as its seen faces, and
the fill over the adjacency finds them. A generated mesh is one fused surface: the
hidden floor inside a cup is reached over the surface only from the cup's seen
inner wall, while the part it belongs to, the cup's bottom, is the seen underside a
wall's thickness below it. Surface paths still win where they are shorter (a hidden
crevice between two seen sides), so a line through a thick body does not carry a
far label into a crevice. Figures: the README's paragraph on lifting generated
surfaces (`bench/bench_lift_generated.py`).
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.sparse.csgraph import dijkstra

from ..geometry.facegraph import FaceGraph
from ..io.mesh import Mesh

_CASTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Mesh -> its ray caster
RAY_OFFSET = 1e-6  # start of a ray inside the solid, in units of the bounding-box diagonal


def _orientation(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(F,) float64 +1 where a face's connected piece of `graph` encloses a positive
    signed volume with the faces as wound (normals outward), -1 where it is wound
    inside out (as some files are)."""
    corners = mesh.vertices[mesh.faces]  # (F, 3, 3)
    signed = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2]))
    volume = np.bincount(graph.pieces, weights=signed)
    return np.where(volume[graph.pieces] < 0, -1.0, 1.0)


def _ray_caster(mesh: Mesh):
    """The ray caster of `mesh` (embree when installed), built once per mesh: the
    session cleans up the same mesh after every prompt."""
    caster = _CASTERS.get(mesh)
    if caster is None:
        caster = _CASTERS[mesh] = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).ray
    return caster


def through_pairs(mesh: Mesh, graph: FaceGraph, faces: np.ndarray) -> np.ndarray:
    """(n, 2) int64 pairs (face, exit face): for each of the (m,) `faces`, the face where
    the line from its centroid into the solid (against its outward normal: normals
    of pieces wound inside out are turned) leaves the solid, when that line first
    hits a face from behind (n_exit . direction > 0) on the same connected piece of
    `graph`. Faces whose line leaves through air or onto another piece have none, and
    so do faces buried in a solid (the line out of them first meets a face from
    behind: an artist's box sunk into another, welded to it)."""
    faces = np.asarray(faces, np.int64)
    if len(faces) == 0:
        return np.zeros((0, 2), np.int64)
    normals = mesh.face_normals * _orientation(mesh, graph)[:, None]  # outward on closed pieces
    diagonal = float(np.linalg.norm(mesh.vertices.max(0) - mesh.vertices.min(0)))
    directions = np.concatenate([-normals[faces], normals[faces]])  # into the solid, then out of it
    origins = np.tile(mesh.centroids[faces], (2, 1)) + directions * RAY_OFFSET * diagonal
    caster = _ray_caster(mesh)
    hits = np.asarray(caster.intersects_first(origins, directions), np.int64).reshape(2, len(faces))
    from_behind = np.einsum("kij,kij->ki", normals[hits].reshape(2, len(faces), 3), directions.reshape(2, len(faces), 3)) > 0
    exit_face = hits[0]
    exposed = (hits[1] < 0) | ~from_behind[1]
    keep = (exit_face >= 0) & from_behind[0] & exposed & (exit_face != faces)
    keep[keep] &= graph.pieces[faces[keep]] == graph.pieces[exit_face[keep]]
    return np.stack([faces[keep], exit_face[keep]], axis=1)


def _nearest_sources(mesh: Mesh, pairs: np.ndarray, labelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,) float64 distance from each face to the nearest (F,) bool `labelled` face along
    (E, 2) `pairs` of faces (edges as long as their centroids are apart; inf where none
    reaches) and (F,) int64 that nearest labelled face (-1 where none).

    Labelled faces are sources at distance 0, so a shortest path runs through
    unlabelled faces only after its last labelled one: the search keeps only the
    pairs with an unlabelled end (the hidden regions and their borders, not the
    whole mesh)."""
    pairs = pairs[~(labelled[pairs[:, 0]] & labelled[pairs[:, 1]])]
    nodes, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(-1, 2)
    centroids, n = mesh.centroids, len(nodes)
    length = np.linalg.norm(centroids[pairs[:, 0]] - centroids[pairs[:, 1]], axis=1)
    length += 1e-12 * max(float(length.max(initial=0.0)), 1.0)  # coincident centroids stay an edge
    weights = sp.coo_matrix((length, (local[:, 0], local[:, 1])), shape=(n, n)).tocsr()
    distance = np.full(mesh.num_faces, np.inf)
    nearest = np.full(mesh.num_faces, -1, np.int64)
    sources = np.flatnonzero(labelled[nodes])
    if len(sources):
        found, _, source = dijkstra(weights, directed=False, indices=sources, min_only=True, return_predecessors=True)
        distance[nodes] = found
        nearest[nodes] = np.where(source >= 0, nodes[np.maximum(source, 0)], -1)
    return distance, nearest


def fill_through_solid(mesh: Mesh, graph: FaceGraph, labels: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(F,) int64 copy of (F,) `labels` where the -1 faces among (F,) bool `targets` that
    their nearest labelled face reaches sooner through the solid than over the surface
    alone take its label (module docstring); the other -1 faces stay -1, for a fill
    over the adjacency. Faces outside `targets` never change."""
    labels = np.asarray(labels, np.int64).copy()
    missing = np.flatnonzero(targets & (labels < 0))
    labelled = labels >= 0
    through = through_pairs(mesh, graph, missing)
    if not labelled.any() or len(through) == 0:
        return labels
    over_surface, _ = _nearest_sources(mesh, graph.pairs, labelled)
    with_lines, nearest = _nearest_sources(mesh, np.concatenate([graph.pairs, through]), labelled)
    sooner = missing[(nearest[missing] >= 0) & (with_lines[missing] < over_surface[missing] * (1 - 1e-9))]
    labels[sooner] = labels[nearest[sooner]]
    return labels
