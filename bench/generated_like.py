"""Synthetic artist objects with thin parts and deep concavities, and their
generated-like versions (the recipe of ../shared/data/generated_like_dev/README.md).

The artist objects are separate primitive pieces, each piece labelled with its
ground-truth part: a chair (thin legs and stretchers, slatted back), a cup (a deep
inside, a handle), a figure (thin arms hanging close to the torso), a cabinet
(shelves and books deep inside an open box) and a coat stand (a thin pole, thin
hooks). :func:`generated_like` turns one into what text/image-to-3D models give:

1. scaled so that its longest side is 1, in a grid of `resolution` cells per side
   with 4 empty cells of margin;
2. solidified: the surface sampled every half cell, the cells hit marked and
   dilated by one cell, the empty space connected to the border is the outside;
   signed distance from the two Euclidean distance transforms, zero level by
   marching cubes (scikit-image), components under 1 % of the area dropped;
3. decimated to about `faces` triangles (fast-simplification), welded, fragments
   under 1 % of the area dropped;
4. mapped back, each face labelled with the part of the nearest point of a dense
   sampling of the artist surface.

Deterministic (fixed seeds). scikit-image is not a project dependency: install it
beside the environment (``pip install --target DIR scikit-image lazy_loader`` and
``PYTHONPATH=DIR``) to build the generated-like versions.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree

from geosam2.io.mesh import from_arrays
from tests.stress import StressObject, assemble, box

MARGIN = 4  # empty cells around the object
DROP_AREA = 0.01  # fraction of the area under which a component is dropped


def _cylinder(radius: float, start, end, sections: int = 16) -> trimesh.Trimesh:
    """A cylinder of `radius` from point `start` to point `end`."""
    return trimesh.creation.cylinder(radius=radius, segment=np.array([start, end], float), sections=sections)


def _sphere(radius: float, centre) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=3, radius=radius).apply_translation(centre)


def chair() -> StressObject:
    """Seat (0), 4 thin legs (1), 2 back posts (2), 3 back slats (3), 4 stretchers (4)."""
    pieces = [(box((0.5, 0.5, 0.05), (0, 0, 0.45), subdivisions=2), 0)]
    corners = [(x, y) for x in (-0.22, 0.22) for y in (-0.22, 0.22)]
    pieces += [(_cylinder(0.018, (x, y, 0.0), (x, y, 0.43)), 1) for x, y in corners]
    pieces += [(_cylinder(0.02, (x, 0.22, 0.47), (x, 0.22, 1.0)), 2) for x in (-0.22, 0.22)]
    pieces += [(box((0.42, 0.025, 0.06), (0, 0.22, z), subdivisions=1), 3) for z in (0.62, 0.76, 0.9)]
    pieces += [(_cylinder(0.01, (-0.22, y, 0.15), (0.22, y, 0.15)), 4) for y in (-0.22, 0.22)]
    pieces += [(_cylinder(0.01, (x, -0.22, 0.15), (x, 0.22, 0.15)), 4) for x in (-0.22, 0.22)]
    return assemble("chair", pieces)


def cup() -> StressObject:
    """Wall (0, a tube: its inside a deep concavity), bottom (1), handle (2), rim band (3)."""
    wall = trimesh.creation.annulus(r_min=0.27, r_max=0.3, height=0.7, sections=48).apply_translation((0, 0, 0.37))
    bottom = trimesh.creation.cylinder(radius=0.3, height=0.04, sections=48).apply_translation((0, 0, 0.02))
    handle = trimesh.creation.torus(major_radius=0.16, minor_radius=0.025, major_sections=48, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    handle.apply_translation((0.3, 0, 0.4))
    rim = trimesh.creation.annulus(r_min=0.265, r_max=0.305, height=0.04, sections=48).apply_translation((0, 0, 0.7))
    return assemble("cup", [(wall, 0), (bottom, 1), (handle, 2), (rim, 3)])


def figure() -> StressObject:
    """Torso (0), head (1), arms (2, 3) hanging 0.02 from the torso, hands (4, 5), legs (6, 7), neck (8)."""
    pieces = [(box((0.3, 0.18, 0.4), (0, 0, 0.6), subdivisions=2), 0), (_sphere(0.1, (0, 0, 0.95)), 1)]
    for side, (arm, hand, leg) in ((-1, (2, 4, 6)), (1, (3, 5, 7))):
        x = side * (0.15 + 0.02 + 0.025)
        pieces.append((_cylinder(0.025, (x, 0, 0.78), (x, 0, 0.42)), arm))
        pieces.append((_sphere(0.035, (x, 0, 0.39)), hand))
        pieces.append((_cylinder(0.045, (side * 0.08, 0, 0.41), (side * 0.08, 0, 0.0)), leg))
    pieces.append((_cylinder(0.04, (0, 0, 0.79), (0, 0, 0.87)), 8))
    return assemble("figure", pieces)


def cabinet() -> StressObject:
    """An open-front box: back (0), sides (1), top and bottom (2), 2 shelves (3), 6 books (4-9) deep inside."""
    w, d, h, t = 0.6, 0.35, 1.0, 0.02
    pieces = [(box((w, t, h), (0, d / 2, h / 2), subdivisions=2), 0)]
    pieces += [(box((t, d, h), (x, 0, h / 2), subdivisions=2), 1) for x in (-w / 2, w / 2)]
    pieces += [(box((w, d, t), (0, 0, z), subdivisions=2), 2) for z in (0.0, h)]
    pieces += [(box((w - t, d - t, t), (0, 0, z), subdivisions=2), 3) for z in (h / 3, 2 * h / 3)]
    for k, (x, z) in enumerate([(-0.2, 0.01), (-0.1, 0.01), (0.15, h / 3), (0.22, h / 3), (-0.18, 2 * h / 3), (0.0, 2 * h / 3)]):
        height = 0.18 + 0.03 * (k % 3)
        pieces.append((box((0.05, 0.22, height), (x, 0.04, z + t / 2 + height / 2)), 4 + k))
    return assemble("cabinet", pieces)


def coat_stand() -> StressObject:
    """Base (0), thin pole (1), 4 thin hooks (2), top knob (3), a ring halfway up (4)."""
    pieces = [(trimesh.creation.cylinder(radius=0.2, height=0.04, sections=48).apply_translation((0, 0, 0.02)), 0)]
    pieces.append((_cylinder(0.015, (0, 0, 0.04), (0, 0, 1.0)), 1))
    for angle in np.arange(4) * np.pi / 2:
        tip = (0.12 * np.cos(angle), 0.12 * np.sin(angle), 0.98)
        pieces.append((_cylinder(0.008, (0, 0, 0.88), tip, sections=8), 2))
    pieces.append((_sphere(0.03, (0, 0, 1.02)), 3))
    ring = trimesh.creation.torus(major_radius=0.05, minor_radius=0.012, major_sections=32, minor_sections=8)
    pieces.append((ring.apply_translation((0, 0, 0.5)), 4))
    return assemble("coat_stand", pieces)


def artist_objects() -> list[StressObject]:
    """The artist objects of the module docstring."""
    return [chair(), cup(), figure(), cabinet(), coat_stand()]


def _solid(points: np.ndarray, resolution: int) -> np.ndarray:
    """(R, R, R) bool solid of a surface sampled by (N, 3) `points` in grid cells:
    the cells hit, dilated by one, and everything the outside does not reach."""
    grid = np.zeros((resolution,) * 3, bool)
    cells = np.clip(np.floor(points).astype(int), 0, resolution - 1)
    grid[tuple(cells.T)] = True
    grid = ndimage.binary_dilation(grid)
    empty, _ = ndimage.label(~grid)
    border = np.unique(np.concatenate([empty[[0, -1]].ravel(), empty[:, [0, -1]].ravel(), empty[:, :, [0, -1]].ravel()]))
    return ~np.isin(empty, border[border > 0])


def _largest_components(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """`mesh` without its connected components under `DROP_AREA` of the area."""
    parts = mesh.split(only_watertight=False)
    total = sum(p.area for p in parts)
    return trimesh.util.concatenate([p for p in parts if p.area >= DROP_AREA * total])


def generated_like(obj: StressObject, resolution: int = 192, faces: int = 60000, seed: int = 0) -> StressObject:
    """The generated-like version of the artist object `obj` (module docstring)."""
    import fast_simplification
    from skimage.measure import marching_cubes

    vertices, triangles = obj.mesh.vertices, obj.mesh.faces
    source = trimesh.Trimesh(vertices, triangles, process=False)
    low = vertices.min(0)
    cell = (vertices.max(0) - low).max() / (resolution - 2 * MARGIN)
    count = int(source.area / (cell / 2) ** 2) + 1
    points, face_index = trimesh.sample.sample_surface(source, count, seed=seed)
    solid = _solid((points - low) / cell + MARGIN, resolution)
    sdf = ndimage.distance_transform_edt(~solid) - ndimage.distance_transform_edt(solid)
    verts, tris, _, _ = marching_cubes(sdf.astype(np.float32), level=0.0)
    surface = _largest_components(trimesh.Trimesh(verts, tris))
    reduction = max(0.0, 1 - faces / len(surface.faces))
    verts, tris = fast_simplification.simplify(surface.vertices.astype(np.float32), surface.faces, target_reduction=reduction)
    surface = trimesh.Trimesh(verts, tris)
    surface.merge_vertices(digits_vertex=4)
    surface = _largest_components(surface)
    surface.apply_translation(np.full(3, 0.5 - MARGIN))  # marching cubes puts cell centres on integers
    surface.apply_scale(cell)
    surface.apply_translation(low)
    _, nearest = cKDTree(points).query(surface.triangles_center)
    labels = np.asarray(obj.labels)[face_index[nearest]]
    mesh = from_arrays(surface.vertices, surface.faces, name=obj.name + "_gen")
    return StressObject(obj.name + "_gen", mesh, labels.astype(np.int32))
