"""Contacts between the connected pieces of a surface: pieces modelled apart but put
together (a tyre on its rim, a cushion on its seat, a screw in its hole).

An artist mesh is often made of many pieces, and a part of several of them. No edge
joins two pieces, so the boundaries (`geosam2.geometry.boundaries`) cannot say which
belong together; where they lie on each other can. The surface of one piece lies on
another where the other passes within about CONTACT_RADIUS of it (the finer distance
over which the boundaries read the surface: closer than that, two surfaces are not
told apart; `contact_areas`). Two pieces belong together the more of the smaller one
lies on the other: pieces are grouped, the pair of groups with the largest share of
one lying on the other first (`contact_merges`), until no two groups touch. A leg
touching a seat at its end has little of its area on it and joins late; a tyre
wrapped round its rim, early.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp

from ..io.mesh import Mesh
from .boundaries import SMOOTHING_RADIUS

CONTACT_RADIUS = SMOOTHING_RADIUS  # normalised units: surfaces closer than this touch


def surface_samples(mesh: Mesh, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points covering the surface at most `spacing` apart along a face's sides: each
    face's centroid and a barycentric grid of ceil(longest side / spacing) steps (its
    corners at least); about 4 F + 4.6 area / spacing^2 points.

    Returns (N, 3) float64 points and (N,) int64 the face of each."""
    corners = mesh.triangles.astype(np.float64)  # (F, 3, 3)
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    steps = np.maximum(np.ceil(longest / max(spacing, 1e-12)), 1).astype(np.int64)
    points, faces = [], []
    for step in np.unique(steps):
        chosen = np.flatnonzero(steps == step)
        first, second = np.meshgrid(np.arange(step + 1), np.arange(step + 1), indexing="ij")
        inside = first + second <= step
        a, b = first[inside] / step, second[inside] / step
        weights = np.r_[np.stack([1.0 - a - b, a, b], axis=1), [[1 / 3, 1 / 3, 1 / 3]]]  # (K, 3) barycentric
        points.append(np.einsum("kc,fcd->fkd", weights, corners[chosen]).reshape(-1, 3))
        faces.append(np.repeat(chosen, len(weights)))
    return np.concatenate(points), np.concatenate(faces)


def contact_areas(mesh: Mesh, pieces: np.ndarray, radius: float = CONTACT_RADIUS) -> sp.csr_matrix:
    """(P, P) sparse float64: entry (i, j) the area of piece i lying near piece j, from
    (F,) `pieces` ids 0..P-1 (normalised units squared; no diagonal). The surface is
    sampled `radius` apart (`surface_samples`), each sample standing for an equal
    share of its face's area; a sample is near piece j when its cell of a grid of
    `radius` is next to (or is) a cell holding a sample of piece j: within `radius`
    of it for sure, within 2 sqrt(3) `radius` at most."""
    count = int(pieces.max(initial=-1)) + 1
    if count < 2:
        return sp.csr_matrix((max(count, 0), max(count, 0)))
    points, faces = surface_samples(mesh, radius)
    share = (mesh.face_areas / np.bincount(faces, minlength=mesh.num_faces).clip(1))[faces]  # (N,) area per sample
    piece = pieces[faces].astype(np.int64)
    cells = np.floor((points - points.min(axis=0)) / radius).astype(np.int64) + 1  # >= 1: room for the offsets
    span = cells.max(axis=0) + 2
    cell = (cells[:, 0] * span[1] + cells[:, 1]) * span[2] + cells[:, 2]
    occupied = np.unique(cell * count + piece)  # (cell, piece) pairs, cell-major
    offsets = np.array([(a * span[1] + b) * span[2] + c for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])
    around = np.unique(((occupied // count)[:, None] + offsets).ravel() * count + np.repeat(occupied % count, len(offsets)))
    around_cell, around_piece = around // count, around % count  # pieces next to each cell, sorted by cell
    first, last = np.searchsorted(around_cell, cell), np.searchsorted(around_cell, cell, side="right")
    sample = np.flatnonzero(last - first > 1)  # samples with another piece next to their cell
    sizes = (last - first)[sample]
    index = np.repeat(first[sample] - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    sample, other = np.repeat(sample, sizes), around_piece[index]
    apart = other != piece[sample]
    sample, other = sample[apart], other[apart]
    return sp.coo_matrix((share[sample], (piece[sample], other)), shape=(count, count)).tocsr()


def contact_merges(contact: sp.csr_matrix, piece_area: np.ndarray) -> np.ndarray:
    """(M, 2) int64 pairs of pieces whose groups merge, in order: the two touching
    groups first of which the larger share lies on the other (contact area of a group
    with the other, summed over its pieces, over its area from (P,) `piece_area`),
    until no two groups touch. Each pair names the groups by one piece of each."""
    area = {int(p): float(a) for p, a in enumerate(piece_area)}
    touch: dict[int, dict[int, float]] = {p: {} for p in area}  # symmetric keys: touch[a][b] exists iff touch[b][a]
    pairs = contact.tocoo()
    for i, j, value in zip(pairs.row.tolist(), pairs.col.tolist(), pairs.data.tolist()):
        touch[i][j] = touch[i].get(j, 0.0) + value
        touch[j].setdefault(i, 0.0)

    def share(a: int, b: int) -> float:
        return max(touch[a][b] / max(area[a], 1e-300), touch[b][a] / max(area[b], 1e-300))

    heap = [(-share(a, b), a, b) for a in touch for b in touch[a] if a < b]
    heapq.heapify(heap)
    merges = []
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in area or b not in area or -negative != share(a, b):
            continue  # a group gone, or its share changed since
        merges.append((a, b))
        area[a] += area.pop(b)  # a stands for the union from now on
        for other, value in touch.pop(b).items():
            if other != a:
                touch[a][other] = touch[a].get(other, 0.0) + value
                touch[other][a] = touch[other].get(a, 0.0) + touch[other].pop(b)
        touch[a].pop(b)
        for other in touch[a]:
            heapq.heappush(heap, (-share(a, other), min(a, other), max(a, other)))
    return np.array(merges, np.int64).reshape(-1, 2)
