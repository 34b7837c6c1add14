"""Naive, obviously-correct references of vectorised product code (as pytorch3d keeps
``*_naive`` versions next to its kernels): plain loops over pixels, faces and edges,
meant for tiny inputs only. `tests/test_references.py` compares the product with them."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np


def pixel_vote_naive(face_ids: np.ndarray, masks: np.ndarray, priorities, num_faces: int, depth: int = 3) -> np.ndarray:
    """(F,) labels of the project's pixel votes (`geosam2.lifting.lift.vote_labels` on
    `visible_pixels`), from (V, H, W) face ids and (P, V, H, W) bool masks.

    Per view: each pixel showing a face takes the covering part with the highest
    priority, then the fewest pixels in that view, then the lowest index (-1: none);
    it votes for its face with weight min(depth, 1 + its grid distance to the nearest
    pixel having a 4-neighbour of another label, both showing the object). A face's
    label is its most voted part, ties to the highest priority, then the fewest pixels
    over all views, then the lowest index; -1 without votes."""
    num_parts, num_views, height, width = masks.shape
    priorities = list(priorities)
    votes = np.zeros((num_faces, num_parts))
    for v in range(num_views):
        label = np.full((height, width), -2)  # -2: shows no face
        for y in range(height):
            for x in range(width):
                if face_ids[v, y, x] >= 0:
                    covering = [p for p in range(num_parts) if masks[p, v, y, x]]
                    ranked = sorted(covering, key=lambda p: (-priorities[p], masks[p, v].sum(), p))
                    label[y, x] = ranked[0] if ranked else -1
        boundary = []
        for y in range(height):
            for x in range(width):
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    inside = 0 <= ny < height and 0 <= nx < width
                    if inside and label[y, x] != -2 and label[ny, nx] != -2 and label[y, x] != label[ny, nx]:
                        boundary.append((y, x))
                        break
        for y in range(height):
            for x in range(width):
                if label[y, x] >= 0:
                    distance = min((abs(y - by) + abs(x - bx) for by, bx in boundary), default=depth)
                    votes[face_ids[v, y, x], label[y, x]] += min(depth, 1 + distance)
    order = sorted(range(num_parts), key=lambda p: (-priorities[p], masks[p].sum(), p))
    labels = np.full(num_faces, -1)
    for f in range(num_faces):
        if votes[f].max() > 0:
            labels[f] = max(order, key=lambda p: (votes[f, p], -order.index(p)))
    return labels


def _neighbours(pairs: np.ndarray, num_faces: int) -> list[list[int]]:
    around = [[] for _ in range(num_faces)]
    for a, b in pairs.tolist():
        around[a].append(b)
        around[b].append(a)
    return around


def _components(around: list[list[int]], labels: np.ndarray) -> list[list[int]]:
    """Connected pieces of equal label (>= 0), each a list of faces, by breadth-first search."""
    seen, pieces = set(), []
    for start in range(len(labels)):
        if labels[start] < 0 or start in seen:
            continue
        piece, queue = [], deque([start])
        seen.add(start)
        while queue:
            face = queue.popleft()
            piece.append(face)
            for other in around[face]:
                if other not in seen and labels[other] == labels[face]:
                    seen.add(other)
                    queue.append(other)
        pieces.append(piece)
    return pieces


def _fill_naive(around, centroids, labels, targets, sweeps: int = 64, k: int = 3) -> np.ndarray:
    """Unlabelled `targets` take their labelled neighbours' majority (ties: the smaller
    label), all at once per sweep; those left take the majority of the k nearest labelled
    centroids (ties: the nearest)."""
    labels = labels.copy()
    for _ in range(sweeps):
        new = labels.copy()
        for f in np.flatnonzero(targets & (labels < 0)):
            counts = Counter(labels[n] for n in around[f] if labels[n] >= 0)
            if counts:
                new[f] = min(counts, key=lambda label: (-counts[label], label))
        if (new == labels).all():
            break
        labels = new
    source = np.flatnonzero(labels >= 0)
    for f in np.flatnonzero(targets & (labels < 0)):
        nearest = sorted(source, key=lambda s: np.linalg.norm(centroids[s] - centroids[f]))[:k]
        counts = Counter(labels[s] for s in nearest)
        labels[f] = min(counts, key=lambda label: (-counts[label], [labels[s] for s in nearest].index(label)))
    return labels


def clean_naive(mesh, labels: np.ndarray, pa: float, keep_largest_piece: bool = False) -> np.ndarray:
    """The project's clean-up (`geosam2.lifting.cleanup.ProjectCleanup`, split on, whole
    pieces not kept): fill, clear the small pieces (below `pa` of the largest piece's
    faces AND area; with `keep_largest_piece` each label's largest piece kept), fill
    again, then one label per connected piece, numbered by input label, then area."""
    around = _neighbours(mesh.graph.pairs, mesh.num_faces)
    areas = mesh.face_areas
    filled = _fill_naive(around, mesh.centroids, np.asarray(labels, np.int64), labels < 0)
    pieces = _components(around, filled)
    most_faces = max(len(p) for p in pieces)
    most_area = max(areas[p].sum() for p in pieces)
    largest = {}
    for piece in pieces:
        label = filled[piece[0]]
        if label not in largest or areas[piece].sum() > areas[largest[label]].sum():
            largest[label] = piece
    cleared = filled.copy()
    for piece in pieces:
        kept = keep_largest_piece and largest[filled[piece[0]]] is piece
        if len(piece) < pa * most_faces and areas[piece].sum() < pa * most_area and not kept:
            cleared[piece] = -1
    cleaned = _fill_naive(around, mesh.centroids, cleared, cleared < 0)
    ranked = sorted(_components(around, cleaned), key=lambda p: (cleaned[p[0]], -areas[p].sum()))
    out = np.full(mesh.num_faces, -1)
    for new_label, piece in enumerate(ranked):
        out[piece] = new_label
    return out
