"""GeoSAM2 segmenting with the view features every user of a mesh shares."""

from __future__ import annotations

from geosam2.segmenters.geosam2 import GeoSAM2Segmenter, ViewFeatures


class SharedFeaturesSegmenter(GeoSAM2Segmenter):
    """A user's GeoSAM2 segmenter whose features of the prepared mesh's views are
    computed once for every user (kept in `prepared`, see demo.meshes.PreparedMesh).

    Parameters
    ----------
    model : GeoSAM2, the shared network
    prepared : demo.meshes.PreparedMesh
    """

    def __init__(self, model, prepared, **options):
        super().__init__(model, **options)
        self.prepared = prepared

    def features(self, views) -> ViewFeatures:
        """The shared features when `views` are the prepared mesh's, else the segmenter's own."""
        if views is not self.prepared.views:
            return super().features(views)
        return self.prepared.features(self.encode)
