"""The geometry segmenter on the stress set (tests/stress.py): through the simulated user,
it must beat the connected pieces by at least 5 points of mIoU on average (issue 14)."""

from __future__ import annotations

import numpy as np

from geosam2.evaluation.policies import make_method
from geosam2.evaluation.readers import GroundTruth
from geosam2.evaluation.runner import score
from tests.stress import stress_objects


def test_geometry_beats_the_connected_pieces_by_five_points_on_the_stress_set():
    geometry, pieces = make_method("geometry", resolution=256), make_method("pieces")
    scores = []
    for name, mesh, labels in stress_objects():
        truth = GroundTruth(name, mesh, labels)
        scores.append((score(truth, geometry.predict(truth)), score(truth, pieces.predict(truth))))
        print(f"{name}: geometry {100 * scores[-1][0]:.2f}, pieces {100 * scores[-1][1]:.2f}")
    mean_geometry, mean_pieces = 100 * np.mean(scores, axis=0)
    print(f"mean: geometry {mean_geometry:.2f}, pieces {mean_pieces:.2f}")
    assert mean_geometry >= mean_pieces + 5
