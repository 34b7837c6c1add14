"""A hierarchy of parts from the boundary weights: superfaces merged along the weakest
boundaries, from many small regions up to the whole surface.

1. Superfaces: about SUPERFACES patches of the surface grown from seeds spread over
   it (one per occupied cell of a grid), each face going to the seed nearest along
   the surface, where crossing a boundary costs extra length
   (`geosam2.geometry.boundaries`): patches stop at valleys.
2. Embedding: the superface graph (conductance summed over the edges between two
   superfaces, mass the area) is embedded by its commute times (the smallest
   eigenvectors of its generalised Laplacian, each divided by the square root of
   its eigenvalue): two superfaces far apart in the embedding are separated by
   resistance, i.e. by boundaries or narrow necks, wherever the valleys are broken.
3. Merging: adjacent regions merge, cheapest first, at Ward's cost (the increase of
   area-weighted variance in the embedding), one merge at a time until one region
   per connected piece is left. Regions that no edge joins (separate pieces of an
   artist mesh) never merge in the tree.
4. Pieces: above the tree, whole pieces are grouped by how much of them lies on
   each other (`geosam2.geometry.contacts`), the levels coarser than one region per
   piece (a part of an artist mesh is often made of several pieces).

The hierarchy is read as levels: labels of the faces with a given number of
regions (`PartHierarchy.level`), and the chain of regions a face belongs to
within its piece (`PartHierarchy.chain`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from ..io.mesh import Mesh
from .boundaries import Boundaries
from .contacts import contact_areas, contact_merges
from .facegraph import FaceGraph

SUPERFACES = 2000  # about this many patches seed the hierarchy (fewer on small meshes)
BOUNDARY_LENGTH = 4.0  # a full-strength boundary costs this many edge lengths to cross when growing superfaces
EMBEDDING_SIZE = 24  # eigenvectors of the commute-time embedding per connected piece
LEVEL_GROWTH = 1.3  # successive levels differ by about this factor of regions
FINEST_LEVEL = 100  # the finest level offered has this many regions (more connected pieces: one per piece)


@dataclass(frozen=True, eq=False)
class PartHierarchy:
    """Nested regions of a surface, merged from superfaces.

    Attributes
    ----------
    superface : (F,) int32
        Superface of each face, 0..S-1.
    parent : (2S-1,) int64
        Node of the merge tree each node merges into (-1 for a root); nodes 0..S-1 are
        the superfaces, node S+k is made by the k-th merge.
    area : (2S-1,) float64
        Surface area of each node (normalised units squared).
    height : (2S-1,) float64
        Ward's cost of the merge that made each node (0 for the superfaces),
        non-decreasing with the merges.
    roots : int
        Number of nodes never merged (connected pieces).
    piece_merges : (M, 2) int64
        Roots of the tree whose groups merge, in order, above the tree (pieces put
        together, `geosam2.geometry.contacts.contact_merges`); M < roots.
    """

    superface: np.ndarray
    parent: np.ndarray
    area: np.ndarray
    height: np.ndarray
    roots: int
    piece_merges: np.ndarray

    @property
    def coarsest(self) -> int:
        """The fewest regions of a level: the groups of touching pieces."""
        return self.roots - len(self.piece_merges)

    @property
    def num_superfaces(self) -> int:
        return len(self.superface_ids)

    @property
    def superface_ids(self) -> np.ndarray:
        return np.arange(int(self.superface.max(initial=-1)) + 1)

    def node_labels(self, count: int) -> np.ndarray:
        """(S,) int64 node of the merge tree each superface lies in when `count`
        regions are left (at least `coarsest`, at most S); below `roots`, the root
        standing for its group of pieces."""
        total = self.num_superfaces
        count = int(np.clip(count, self.coarsest, total))
        merges = total - max(count, self.roots)  # the first `merges` merges have been made
        alive = self.parent.copy()
        alive[alive >= total + merges] = -1  # merges not made yet
        node = _climb(alive, np.arange(total))
        group = np.arange(len(self.parent))
        for kept, joined in self.piece_merges[: max(self.roots - count, 0)]:
            group[group == group[joined]] = group[kept]
        return group[node]

    def level(self, count: int) -> np.ndarray:
        """(F,) int32 region ids 0..count-1 per face with `count` regions left."""
        return np.unique(self.node_labels(count), return_inverse=True)[1].astype(np.int32)[self.superface]

    def level_counts(self, finest: int | None = None) -> list[int]:
        """Region counts of the levels, coarse to fine, in steps of about LEVEL_GROWTH
        times from one region per piece (`roots`): down to `coarsest` (groups of
        pieces) and up to `finest` (default: FINEST_LEVEL, or `roots` when more), at
        most the superfaces."""
        finest = max(FINEST_LEVEL, self.roots) if finest is None else finest
        finest = min(finest, self.num_superfaces)
        counts, count = [], float(max(self.roots, 1))
        while count < finest:
            counts.append(int(round(count)))
            count = max(count * LEVEL_GROWTH, count + 1)
        count = float(self.roots)
        while count > self.coarsest:
            count = max(min(count / LEVEL_GROWTH, count - 1), self.coarsest)
            counts.append(int(round(count)))
        return sorted(set(counts + [finest]))

    def superface_levels(self, finest: int | None = None) -> np.ndarray:
        """(L, S) int64 region ids 0..count-1 per superface per level of `level_counts`,
        coarse to fine."""
        return np.stack([np.unique(self.node_labels(count), return_inverse=True)[1] for count in self.level_counts(finest)])

    def levels(self, finest: int | None = None) -> np.ndarray:
        """(L, F) int32 face labels per level of `level_counts`, coarse to fine."""
        return self.superface_levels(finest).astype(np.int32)[:, self.superface]

    def chain(self, superface: int) -> np.ndarray:
        """(D,) int64 nodes from `superface` up to its root (its piece), small to large."""
        nodes = [int(superface)]
        while self.parent[nodes[-1]] >= 0:
            nodes.append(int(self.parent[nodes[-1]]))
        return np.array(nodes, np.int64)

    def members(self, node: int) -> np.ndarray:
        """(S,) bool superfaces under `node`."""
        inside = np.zeros(len(self.parent), bool)
        inside[node] = True
        for child in range(node - 1, -1, -1):  # children are made before their parents
            if self.parent[child] >= 0 and inside[self.parent[child]]:
                inside[child] = True
        return inside[: self.num_superfaces]


def _climb(parent: np.ndarray, node: np.ndarray) -> np.ndarray:
    """(N,) the root of each node of `node` under (M,) `parent` (-1 = root)."""
    while True:
        up = parent[node]
        if (up < 0).all():
            return node
        node = np.where(up >= 0, up, node)


def superfaces(mesh: Mesh, graph: FaceGraph, bounds: Boundaries, count: int = SUPERFACES) -> np.ndarray:
    """(F,) int32 superface per face: about `count` patches grown from seeds at one face
    per occupied grid cell (the face nearest the cell's centre), each face to the
    seed nearest along the surface with edge length (centroid distance) * (1 +
    BOUNDARY_LENGTH * strength); faces no seed reaches (small pieces) are patches of
    their own piece."""
    centroids, areas = mesh.centroids, mesh.face_areas
    lo, hi = centroids.min(0), centroids.max(0)
    cell = max(float(np.sqrt(areas.sum() / max(count, 1))), 1e-9)
    cells = np.floor((centroids - lo) / cell).astype(np.int64)
    key = (cells[:, 0] * (cells[:, 1].max() + 1) + cells[:, 1]) * (cells[:, 2].max() + 1) + cells[:, 2]
    offset = np.linalg.norm(centroids - (lo + (cells + 0.5) * cell), axis=1)
    order = np.lexsort((offset, key))
    seeds = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    first, second = graph.pairs.T
    gap = np.linalg.norm(centroids[second] - centroids[first], axis=1)
    lengths = np.maximum(gap * (1.0 + BOUNDARY_LENGTH * bounds.strength), 1e-12)
    matrix = graph.subgraph(np.ones(len(gap), bool), lengths)
    _, _, sources = dijkstra(matrix, directed=False, indices=seeds, min_only=True, return_predecessors=True)
    pieces = graph.pieces
    label = np.where(sources >= 0, sources, len(areas) + pieces)  # unreached faces: one patch per piece
    return np.unique(label, return_inverse=True)[1].astype(np.int32)


def superface_graph(graph: FaceGraph, conductance: np.ndarray, patch: np.ndarray) -> sp.csr_matrix:
    """(S, S) symmetric conductance between superfaces: the sum over the face-graph
    edges joining them of (E,) `conductance` (no diagonal)."""
    first, second = patch[graph.pairs[:, 0]], patch[graph.pairs[:, 1]]
    across = first != second
    count = int(patch.max()) + 1
    rows, columns, data = first[across], second[across], conductance[across]
    matrix = sp.coo_matrix((np.r_[data, data], (np.r_[rows, columns], np.r_[columns, rows])), shape=(count, count))
    return matrix.tocsr()


def commute_embedding(weights: sp.csr_matrix, mass: np.ndarray, size: int = EMBEDDING_SIZE) -> np.ndarray:
    """(S, size) float64 commute-time embedding of a graph, per connected piece: the
    smallest non-constant generalised eigenvectors of (L, diag(mass)), L the graph
    Laplacian of (S, S) `weights`, each divided by the square root of its eigenvalue
    (unit mass norm); zeros where a piece has too few nodes."""
    from scipy.linalg import eigh
    from scipy.sparse.linalg import eigsh

    count = weights.shape[0]
    embedding = np.zeros((count, size))
    pieces = connected_components(weights, directed=False)[1]
    for piece in np.unique(pieces):
        nodes = np.flatnonzero(pieces == piece)
        if len(nodes) < 3:
            continue
        local = weights[nodes][:, nodes]
        laplacian = sp.diags(np.asarray(local.sum(axis=1)).ravel()) - local
        scale = 1.0 / np.sqrt(mass[nodes])
        normalised = sp.diags(scale) @ laplacian @ sp.diags(scale)  # symmetric form of (L, M)
        wanted = min(size + 1, len(nodes) - 1)
        if len(nodes) <= 4 * (size + 1):
            values, vectors = eigh(normalised.toarray())
            values, vectors = values[:wanted], vectors[:, :wanted]
        else:
            shift = -1e-6 * float(normalised.diagonal().mean())
            values, vectors = eigsh(normalised.tocsc(), k=wanted, sigma=shift, which="LM")
        order = np.argsort(values)[1:]  # drop the constant vector
        values, vectors = np.maximum(values[order], 1e-12), vectors[:, order] * scale[:, None]
        embedding[nodes, : len(values)] = vectors / np.sqrt(values)
    return embedding


def merge_tree(weights: sp.csr_matrix, mass: np.ndarray, embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Agglomerate adjacent nodes of (S, S) `weights` at Ward's cost in (S, D)
    `embedding` with (S,) `mass`, cheapest first (a heap of candidate pairs).

    Returns (N,) parent per node (-1 = root), (N,) mass per node, (N,) merge cost of
    each node (0 for the S leaves; N <= 2S-1 nodes), the number of roots."""
    count = weights.shape[0]
    parent = np.full(2 * count - 1, -1, np.int64)
    height = np.zeros(2 * count - 1)
    area = np.zeros(2 * count - 1)
    area[:count] = mass
    centre = np.zeros((2 * count - 1, embedding.shape[1]))
    centre[:count] = embedding
    neighbours = [set(weights.indices[weights.indptr[i] : weights.indptr[i + 1]].tolist()) - {i} for i in range(count)]
    neighbours += [set() for _ in range(count - 1)]

    def cost(a: int, b: int) -> float:
        gap = centre[a] - centre[b]
        return area[a] * area[b] / (area[a] + area[b]) * float(gap @ gap)

    heap = [(cost(a, b), a, b) for a in range(count) for b in neighbours[a] if a < b]
    heapq.heapify(heap)
    made = count
    while heap:
        merge_cost, a, b = heapq.heappop(heap)
        if parent[a] >= 0 or parent[b] >= 0:
            continue  # one of them was merged already
        node, made = made, made + 1
        parent[a] = parent[b] = node
        height[node] = max(merge_cost, height[a], height[b])
        area[node] = area[a] + area[b]
        centre[node] = (area[a] * centre[a] + area[b] * centre[b]) / area[node]
        neighbours[node] = (neighbours[a] | neighbours[b]) - {a, b}
        for other in neighbours[node]:
            neighbours[other] -= {a, b}
            neighbours[other].add(node)
            heapq.heappush(heap, (cost(node, other), other, node))
    return parent[:made], area[:made], height[:made], 2 * count - made


def part_hierarchy(mesh: Mesh, graph: FaceGraph, bounds: Boundaries, count: int = SUPERFACES) -> PartHierarchy:
    """The `PartHierarchy` of `mesh` over `graph` with boundary weights `bounds`."""
    patch = superfaces(mesh, graph, bounds, count)
    weights = superface_graph(graph, bounds.conductance, patch)
    mass = np.bincount(patch, mesh.face_areas, minlength=weights.shape[0])
    mass = np.maximum(mass, 1e-12)
    parent, area, height, roots = merge_tree(weights, mass, commute_embedding(weights, mass))
    root = _climb(parent, np.arange(weights.shape[0]))[patch]  # (F,) root node per face
    nodes, piece = np.unique(root, return_inverse=True)
    contact = contact_areas(mesh, piece.astype(np.int64))
    merges = nodes[contact_merges(contact, np.bincount(piece, mesh.face_areas, minlength=len(nodes)))]
    return PartHierarchy(patch, parent, area, height, roots, merges.reshape(-1, 2))
