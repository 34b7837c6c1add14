"""The seam between meshes and point clouds: what a session needs of the geometry.

A :class:`Surface` holds the labelled elements (the faces of a mesh, or the points
of a point cloud) together with their rendered views, and answers the three
questions the session asks:

- :meth:`Surface.lift`: per-view part masks -> one label per element (which
  element samples each view sees, and the vote);
- :meth:`Surface.clean`: the clean-up of a labelling on the element graph (face
  adjacency, or k-NN graphs on points);
- :attr:`Surface.weights`: each element's share of the surface (face areas, or one
  per point).

Everything else in the pipeline is the same for both kinds of geometry.

On a mesh, the inference profile (`geosam2.profiles`) gives the lifting and the
clean-up as strategy objects: the project's (every pixel of the face-id maps votes
for the face it shows, `geosam2.lifting.lift.PixelVotes`; welded adjacency, fill
before clearing, each label's largest piece and the label pieces that are whole
pieces of the shape kept, `geosam2.lifting.cleanup.ProjectCleanup`) or the
release's (`geosam2.profiles.official`). The release has no point-cloud path:
point clouds always use the project's.
"""

from __future__ import annotations

import numpy as np

from ..io.mesh import Mesh
from ..io.pointcloud import PointCloud
from .cleanup import CleanOptions
from .lift import vote_labels
from .pointlift import clean_point_labels, knn_graph, surface_graph_of, visible_points
from ..render import Views, render_views
from ..render.splat import splat_views


class Surface:
    """Labelled elements of a geometry and their views (see the module docstring).

    Attributes
    ----------
    geometry : Mesh or PointCloud
    views : Views
        The rendered (splatted) views; ``views.face_ids`` index the elements.
    visible : geosam2.lifting.lift.VisiblePixels or geosam2.lifting.lift.VisibleSamples
        Which element each pixel of each view shows (meshes, the project's lifting),
        or which element samples each view sees and at which pixel; computed once,
        every lift reuses it.
    weights : (E,) float64
        Each element's weight in area shares (face areas, or ones for points).
    """

    geometry: Mesh | PointCloud
    views: Views
    weights: np.ndarray

    @property
    def num_elements(self) -> int:
        return len(self.weights)

    def lift(self, masks: np.ndarray, priorities=None) -> np.ndarray:
        """(E,) int32 labels in 0..P-1 from (P, V, H, W) bool `masks` (-1: no view saw
        the element inside a mask; the release's lifting: `SEEN_UNCOVERED` for elements
        seen mostly outside every mask); see :func:`geosam2.lifting.lift.lift_masks`."""
        raise NotImplementedError

    def clean(self, labels: np.ndarray, pa: float, split_disconnected: bool = False, keep_largest_piece: bool = True) -> np.ndarray:
        """(E,) int32 `labels` cleaned up on the element graph: stray pieces below the
        relative size `pa` cleared (each label's largest piece kept unless
        `keep_largest_piece` is False; on a mesh with the project's clean-up, so is a
        label's piece that is a whole piece of the shape, see
        :func:`geosam2.lifting.cleanup.clean_labels`), unlabelled elements filled from
        their neighbours."""
        raise NotImplementedError

    def lifts_as(self, profile) -> bool:
        """Whether this surface lifts and cleans up as `profile` (a Profile) says."""
        raise NotImplementedError


class MeshSurface(Surface):
    """The faces of a mesh: rendered views, the profile's visibility of the faces (the
    project's: the pixels showing each face; the release's: random samples on every
    face), its vote, its clean-up on its face graph, face areas as weights.

    Parameters
    ----------
    mesh : Mesh
    resolution : int, view size in pixels (when `views` is not given).
    samples_per_face : the release's samples per face (its lifting); the project's
        votes with pixels and does not use it.
    views : Views, optional, already rendered views of `mesh`.
    profile : Profile, its name, or None (`geosam2.profiles.resolve`): its
        ``lifting`` and ``cleanup`` strategies.
    """

    def __init__(
        self,
        mesh: Mesh,
        resolution: int = 1024,
        samples_per_face: int = 5,
        views: Views | None = None,
        profile=None,
    ):
        from ..profiles import resolve  # the profiles compose the lifting's pieces: imported on call

        profile = resolve(profile)
        self.geometry = mesh
        self.lifting, self.cleanup = profile.lifting, profile.cleanup
        self.views = render_views(mesh, resolution=resolution) if views is None else views
        self.visible = self.lifting.visible(mesh, self.views, samples_per_face)
        self.graph = self.cleanup.graph(mesh)  # what `clean` runs on
        self.weights = mesh.face_areas

    def lift(self, masks, priorities=None):
        return self.lifting.vote(self.visible, masks, priorities)

    def clean(self, labels, pa, split_disconnected=False, keep_largest_piece=True):
        options = CleanOptions(split_disconnected=split_disconnected, keep_largest_piece=keep_largest_piece, keep_whole_pieces=keep_largest_piece)
        return self.cleanup.clean(self.geometry, np.asarray(labels, np.int64), pa, self.graph, options)[0]

    def lifts_as(self, profile) -> bool:
        return profile.lifting is self.lifting and profile.cleanup is self.cleanup


class PointSurface(Surface):
    """The points of a point cloud: splatted views, each point its own sample, k-NN-graph
    clean-up, the same weight for every point.

    Parameters
    ----------
    cloud : PointCloud
    resolution : int, view size in pixels (when `views` is not given).
    views : SplatViews, optional, already splatted views of `cloud`.
    """

    def __init__(self, cloud: PointCloud, resolution: int = 1024, views: Views | None = None):
        self.geometry = cloud
        self.views = splat_views(cloud, resolution=resolution) if views is None else views
        self.visible = visible_points(cloud, self.views)
        self.graph = knn_graph(cloud)
        self.surface_graph = surface_graph_of(cloud)
        self.weights = np.ones(cloud.num_points)

    def lift(self, masks, priorities=None):
        return vote_labels(self.visible, masks, priorities)

    def clean(self, labels, pa, split_disconnected=False, keep_largest_piece=True):
        options = dict(split_disconnected=split_disconnected, keep_largest_piece=keep_largest_piece)
        return clean_point_labels(self.geometry, labels, pa, graph=self.graph, surface_graph=self.surface_graph, **options)

    def lifts_as(self, profile) -> bool:
        """Always: the release has no point-cloud path, every profile lifts points alike."""
        return True


def surface_of(
    geometry: Mesh | PointCloud,
    resolution: int = 1024,
    samples_per_face: int = 5,
    views: Views | None = None,
    profile=None,
) -> Surface:
    """The Surface of a mesh (its faces, lifted and cleaned up as `profile` says: a
    Profile, its name or None, `geosam2.profiles.resolve`) or of a point cloud (its
    points; the project's lifting whatever the profile)."""
    if isinstance(geometry, PointCloud):
        return PointSurface(geometry, resolution, views)
    return MeshSurface(geometry, resolution, samples_per_face, views, profile)
