"""Training GeoSAM2: part curation from artist meshes, rendered sequences, fine-tuning.

Heavy parts (the network) are imported only by `train`.
"""

from .curate import Curated, curate_directory, curate_mesh
from .dataset import CuratedViews, Sample, frame_order

__all__ = ["Curated", "curate_directory", "curate_mesh", "CuratedViews", "Sample", "frame_order"]
