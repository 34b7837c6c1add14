"""Errors a user can cause and fix: every message says what is wrong and what to do."""


class GeoSAM2Error(Exception):
    """Base class of every error caused by user input or missing resources."""


class MeshLoadError(GeoSAM2Error):
    """The file cannot be read as a triangle mesh (unreadable, corrupt, unsupported)."""


class EmptyMeshError(GeoSAM2Error):
    """The file holds no usable triangles (empty, point cloud, or only degenerate faces)."""


class MeshTooLargeError(GeoSAM2Error):
    """The mesh has more faces than the configured limit."""


class PromptError(GeoSAM2Error):
    """A prompt is invalid: outside the image, on the background, or malformed."""


class WeightsNotFoundError(GeoSAM2Error):
    """Model weights are neither available locally nor downloadable."""
