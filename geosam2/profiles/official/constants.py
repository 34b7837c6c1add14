"""The release's constants that more than one of its stages share."""

OFFICIAL_NUMPY_SEED = 3
"""The release seeds numpy's global generator with 3 (``inference.init_env``); its face
samples (`geosam2.profiles.official.lifting.official_sample_points`), then its
generator's clicks (`geosam2.profiles.official.sampling.release_sampling`) are drawn
from that one stream."""

OFFICIAL_SAMPLES_PER_FACE = 5
"""The release's lifting samples per face, drawn before its first generator call."""

SEEN_UNCOVERED = -2
"""Face label "seen by the views, in no mask" (the release's label 999).

Only the release's lifting produces it (`geosam2.profiles.official.lifting`): there it
votes like a part, so a face seen mostly outside every mask gets it, and the release's
clean-up keeps it as a part of its own (`geosam2.profiles.official.cleanup`). -1 stays
"no view voted" (the release's 0)."""
