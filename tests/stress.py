"""A stress set of small synthetic meshes with ground-truth parts, for lifting and segmentation.

Each object targets one way in which real objects defeat lifting or segmenting
(measured on hidden PartObjaverse-Tiny objects, issue 14):

- ``knobs``: a body with 18 small parts (knobs, buttons, pegs, thin rods), several below
  0.5 % of the surface, each a separate piece sunk slightly into the body: small
  parts must survive the lifting and a clean-up relative to the largest piece, and
  under noisy masks a knob split between its own label and the body's must stay
  the knob's.
- ``cart``: parts made of many separate pieces: 4 wheels are one part, 12 bolts
  one part, 8 slats one part, the body another. Every piece but a part's largest
  is small, so a clean-up that keeps only a part's largest piece loses the rest.
- ``hidden``: a box enclosing a smaller box that no view can see, with a handle on
  top: the hidden part can only be guessed by the fill.
- ``table``: one welded surface (the exposed faces of a voxel set sharing their
  lattice vertices), a top and four legs meeting at concave creases, each leg its
  own part: no connected piece separates the parts.
- ``dumbbell``: two welded blocks joined by a thin bar (three parts): the bar is a
  neck, the only geometric cue.
- ``panel``: a welded slab with studs on two sides, the studs of each side one part:
  parts of many small pieces that are not separate pieces of the mesh.

Everything is built in code, deterministically (no random numbers), with at most a
few thousand faces, so that 12 views at 256-512² render in about a second or less.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import trimesh
from scipy import ndimage

from geosam2.io.mesh import Mesh, from_arrays

SINK = 0.005  # how deep small parts are sunk into the body they touch (file units)


class StressObject(NamedTuple):
    """A synthetic mesh and its (F,) int32 ground-truth part per face (0..P-1, every face labelled)."""

    name: str
    mesh: Mesh
    labels: np.ndarray


def assemble(name: str, pieces: list[tuple[trimesh.Trimesh, int]]) -> StressObject:
    """One mesh of separate (trimesh, part label) pieces, each keeping its own vertices."""
    vertices, faces, labels, offset = [], [], [], 0
    for piece, label in pieces:
        vertices.append(piece.vertices)
        faces.append(piece.faces + offset)
        labels.append(np.full(len(piece.faces), label, np.int32))
        offset += len(piece.vertices)
    mesh = from_arrays(np.concatenate(vertices), np.concatenate(faces), name=name)
    return StressObject(name, mesh, np.concatenate(labels))


def box(extents, centre, subdivisions: int = 0) -> trimesh.Trimesh:
    """An axis-aligned box, its faces split 4 ways `subdivisions` times."""
    box = trimesh.creation.box(extents=extents)
    for _ in range(subdivisions):
        box = box.subdivide()
    box.apply_translation(centre)
    return box


def _cylinder(radius: float, height: float, base, axis: int, sign: int = 1, sections: int = 12) -> trimesh.Trimesh:
    """A cylinder standing on the point `base` along `sign` times the `axis` (0, 1, 2) direction,
    sunk `SINK` into what it stands on."""
    cylinder = trimesh.creation.cylinder(radius=radius, height=height, sections=sections)  # along +z, centred
    direction = np.zeros(3)
    direction[axis] = sign
    rotation = trimesh.geometry.align_vectors([0, 0, 1], direction)
    cylinder.apply_transform(rotation)
    cylinder.apply_translation(np.asarray(base, float) + direction * (height / 2 - SINK))
    return cylinder


def knobs() -> StressObject:
    """A 2 x 1.2 x 1 body (part 0) with 18 small parts: 6 knobs on top, 5 buttons and a
    finely tessellated ball in front, 3 pegs on the right side, a knob and a thin rail at the
    back, a thin antenna on top; from 0.1 % to 1.8 % of the surface each."""
    body = box((2.0, 1.2, 1.0), (0, 0, 0), subdivisions=4)
    pieces = [(body, 0)]
    top = [(-0.7, -0.3, 0.05, 0.04), (-0.3, -0.3, 0.08, 0.05), (0.1, -0.3, 0.12, 0.08),
           (0.6, -0.2, 0.15, 0.1), (-0.6, 0.3, 0.04, 0.03), (0.2, 0.3, 0.06, 0.12)]  # x, y, radius, height
    for x, y, radius, height in top:
        pieces.append((_cylinder(radius, height, (x, y, 0.5), axis=2, sections=8), len(pieces)))
    for k, size in enumerate((0.06, 0.08, 0.1, 0.14, 0.2)):  # buttons on the front (y = -0.6)
        x = -0.8 + 0.38 * k
        pieces.append((box((size, 0.05, size), (x, -0.6 - 0.025 + SINK, -0.1)), len(pieces)))
    for k, radius in enumerate((0.03, 0.05, 0.08)):  # pegs on the right side (x = 1)
        pieces.append((_cylinder(radius, 0.1, (1.0, -0.3 + 0.3 * k, 0.1), axis=0, sections=6), len(pieces)))
    pieces.append((_cylinder(0.05, 0.06, (-0.4, 0.6, 0.2), axis=1, sections=8), len(pieces)))  # a knob at the back
    pieces.append((_cylinder(0.012, 1.2, (-0.6, 0.6 + 0.012 - SINK, -0.2), axis=0, sections=6), len(pieces)))  # a rail
    pieces.append((_cylinder(0.01, 0.5, (0.85, 0.45, 0.5), axis=2, sections=6), len(pieces)))  # an antenna on top
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.06)  # finely tessellated
    pieces.append((ball.apply_translation((-0.85, -0.6 - 0.06 + SINK, 0.3)), len(pieces)))
    return assemble("knobs", pieces)


def cart() -> StressObject:
    """A cart: body (part 0), 4 wheels (part 1), 12 bolts (part 2), 8 slats (part 3);
    every part but the body is made of separate pieces."""
    pieces = [(box((2.0, 1.0, 0.3), (0, 0, 0), subdivisions=4), 0)]
    for x in (-0.7, 0.7):
        for side in (-1, 1):
            pieces.append((_cylinder(0.2, 0.1, (x, 0.5 * side, -0.15), axis=1, sign=side, sections=16), 1))
    for side in (-1, 1):  # bolts on the front and back ends (x = +-1), 3 x 2 each
        for y in (-0.3, 0.0, 0.3):
            for z in (-0.07, 0.07):
                pieces.append((_cylinder(0.03, 0.04, (side, y, z), axis=0, sign=side, sections=6), 2))
    for k in range(8):  # slats across the top (z = 0.15)
        pieces.append((box((0.12, 0.9, 0.04), (-0.84 + 0.24 * k, 0, 0.15 + 0.02 - SINK)), 3))
    return assemble("cart", pieces)


def hidden() -> StressObject:
    """A box (part 0) enclosing a smaller box (part 1) that no view sees, with a handle (part 2) on top."""
    outer = box((1.0, 1.0, 1.0), (0, 0, 0), subdivisions=2)
    inner = box((0.4, 0.4, 0.4), (0, 0, 0), subdivisions=1)
    handle = box((0.6, 0.1, 0.1), (0, 0, 0.55 - SINK), subdivisions=1)
    return assemble("hidden", [(outer, 0), (inner, 1), (handle, 2)])


def voxel_surface(name: str, voxels: np.ndarray) -> StressObject:
    """The exposed faces of the labelled voxels of a (X, Y, Z) int grid (-1 empty) as one
    welded mesh (unit cubes sharing their lattice vertices), each face labelled with its voxel's label."""
    padded = np.pad(voxels, 1, constant_values=-1)
    shape = np.array(padded.shape) + 1  # lattice vertices
    corners_bc = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])  # counter-clockwise seen from +a
    quads, labels = [], []
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3
        for sign in (1, -1):
            neighbour = np.roll(padded, -sign, axis=a)
            cells = np.argwhere((padded >= 0) & (neighbour < 0))
            corners = np.repeat(cells[:, None], 4, axis=1)  # (n, 4, 3) lattice corners
            corners[:, :, a] += sign > 0
            corners[:, :, b] += corners_bc[:, 0]
            corners[:, :, c] += corners_bc[:, 1]
            if sign < 0:
                corners = corners[:, ::-1]
            quads.append(np.ravel_multi_index(tuple(np.moveaxis(corners, -1, 0)), shape))
            labels.append(padded[tuple(cells.T)])
    quads, labels = np.concatenate(quads), np.concatenate(labels)
    used, quads = np.unique(quads, return_inverse=True)
    quads = quads.reshape(-1, 4)
    vertices = np.stack(np.unravel_index(used, shape), axis=1).astype(float)
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    return StressObject(name, from_arrays(vertices, faces, name=name), np.tile(labels, 2).astype(np.int32))


def table() -> StressObject:
    """A welded table: an 18 x 12 x 2 voxel top (part 0) on four 2 x 2 x 9 legs (parts 1-4)."""
    voxels = np.full((18, 12, 11), -1)
    voxels[:, :, 9:] = 0
    for k, (x, y) in enumerate(((0, 0), (16, 0), (0, 10), (16, 10))):
        voxels[x : x + 2, y : y + 2, :9] = k + 1
    return voxel_surface("table", voxels)


def dumbbell() -> StressObject:
    """Two welded 6 x 6 x 6 voxel blocks (parts 0 and 2) joined by a 4 x 2 x 2 bar (part 1): a thin neck."""
    voxels = np.full((16, 6, 6), -1)
    voxels[:6] = 0
    voxels[10:] = 2
    voxels[6:10, 2:4, 2:4] = 1
    return voxel_surface("dumbbell", voxels)


def panel() -> StressObject:
    """A welded 24 x 16 x 3 voxel slab (part 0) with 12 one-voxel studs on top (part 1) and
    6 on its front (part 2): parts of many small pieces, welded to the body at creases."""
    voxels = np.full((24, 17, 4), -1)
    voxels[:, 1:, :3] = 0
    for x in range(2, 24, 4):
        voxels[x, 4, 3] = voxels[x, 12, 3] = 1
        voxels[x, 0, 1] = 2
    return voxel_surface("panel", voxels)


def stress_objects() -> list[StressObject]:
    """The stress set: (name, Mesh, (F,) int32 labels) of every object of the module docstring."""
    return [knobs(), cart(), hidden(), table(), dumbbell(), panel()]


def exact_visibility_labels(mesh: Mesh, views, truth: np.ndarray) -> np.ndarray:
    """The exact-visibility bound of lifting (issue 14): every face that owns a pixel of
    `views`' face-id maps gets its (F,) `truth` label, the unseen faces are filled over the
    face adjacency (then from the nearest labelled faces), nothing is cleaned up.

    Returns (F,) int64 labels."""
    from geosam2.geometry.facegraph import face_graph
    from geosam2.lifting.cleanup import fill_labels

    ids = views.face_ids[views.face_ids >= 0]
    labels = np.full(mesh.num_faces, -1, np.int64)
    labels[ids] = np.asarray(truth)[ids]
    return fill_labels(mesh, face_graph(mesh), labels, labels < 0)


def noisy_masks(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of (P, V, H, W) bool `masks` with the errors of imperfect masks: each mask's
    boundary eroded or dilated by 0-2 px (drawn from `rng`), 0.5 % of the pixels flipped,
    one view dropped."""
    masks = masks.copy()
    for index in np.ndindex(masks.shape[:2]):
        step = int(rng.integers(-2, 3))
        if step:
            morph = ndimage.binary_dilation if step > 0 else ndimage.binary_erosion
            masks[index] = morph(masks[index], iterations=abs(step))
    masks ^= rng.random(masks.shape) < 0.005
    masks[:, rng.integers(masks.shape[1])] = False
    return masks
