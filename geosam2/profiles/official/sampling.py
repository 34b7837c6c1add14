"""The release's random stream: numpy's global generator seeded once per run."""

from __future__ import annotations

import numpy as np

from .constants import OFFICIAL_NUMPY_SEED, OFFICIAL_SAMPLES_PER_FACE


def release_sampling(num_faces: int, samples_per_face: int = OFFICIAL_SAMPLES_PER_FACE) -> np.random.RandomState:
    """numpy's legacy generator as the release's first generator call finds it on a mesh
    of `num_faces` faces: seeded with 3, then the lifting's two (F, S, 1) draws."""
    generator = np.random.RandomState(OFFICIAL_NUMPY_SEED)
    generator.random_sample(2 * samples_per_face * num_faces)
    return generator
