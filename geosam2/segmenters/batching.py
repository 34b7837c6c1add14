"""Batch sizes of the network's work that follow the memory free when it runs.

The automatic mode decodes thousands of clicks and tracks tens of parts; decoded or
tracked all at once they take gigabytes (a B+ network at 1024 px on the CPU rose to
10.8 GB). Each batch is sized so that its estimated memory fits a share of the memory
available at that moment (`NetworkMemory`), never above the caller's own batch size,
never below 1. Batches change only how many items run together, not what each gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import MB, machine_memory_bytes

__all__ = ["NetworkMemory", "available_memory_bytes", "decoder_bytes", "tracking_bytes"]

FLOAT_BYTES = 4
DECODES_PER_CLICK = 4
"""Mask-decoder passes per proposed click, at most: the release's generator decodes
each click, then each of its three masks again as a mask prompt (m2m)."""


def _meminfo_available() -> int | None:
    """MemAvailable of /proc/meminfo in bytes, or None where there is none."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cgroup_room() -> int | None:
    """Bytes the control group (container) still allows, or None without a limit."""
    try:
        limit, used = (open(f"/sys/fs/cgroup/memory.{name}").read().strip() for name in ("max", "current"))
    except OSError:
        return None
    return int(limit) - int(used) if limit.isdigit() and used.isdigit() else None


def available_memory_bytes(device=None) -> int:
    """Bytes the network may still allocate on `device` (a torch.device; None or the
    CPU: the machine's available memory, within the control group's room; CUDA: the
    device's free memory)."""
    if device is not None and getattr(device, "type", "cpu") == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    known = [room for room in (_meminfo_available(), _cgroup_room()) if room is not None]
    return max(0, min(known)) if known else machine_memory_bytes()


@dataclass(frozen=True)
class NetworkMemory:
    """How much memory one batch of the network's work may take.

    Attributes
    ----------
    share : float
        Share of the memory available when the batch starts (`available_memory_bytes`).
    cap_mb : float or None
        At most this many MB whatever is available (None: no cap).
    """

    share: float = 0.5
    cap_mb: float | None = None

    @staticmethod
    def of(settings) -> "NetworkMemory":
        """The memory of `settings` (a `geosam2.settings.Settings`): its `network_mb` as the
        cap, 0 for none."""
        return NetworkMemory(cap_mb=settings.network_mb or None)

    def budget_bytes(self, device=None) -> int:
        """The bytes a batch may take now on `device`."""
        budget = int(self.share * available_memory_bytes(device))
        return budget if self.cap_mb is None else min(budget, int(self.cap_mb * MB))

    def batch_size(self, item_bytes: int, most: int, device=None) -> int:
        """Items per batch: as many of `item_bytes` each as the budget holds, from 1 to `most`."""
        return max(1, min(most, self.budget_bytes(device) // max(1, item_bytes)))


def decoder_bytes(image_size: int) -> int:
    """Estimated bytes of one proposed click through the mask decoder at `image_size`
    (S) px, all its passes (`DECODES_PER_CLICK`): per pass the image embedding it
    repeats (256 x (S/16)^2), the high-resolution features (32 x (S/4)^2, 64 x (S/8)^2)
    and the upscaled masks. Measured with the release's generator at 512 px on the CPU:
    15.2 MB per click in a batch of 16 (estimate 17.0 MB)."""
    s = image_size
    per_pass = 256 * (s // 16) ** 2 + 32 * (s // 4) ** 2 + 64 * (s // 8) ** 2 + 4 * (s // 4) ** 2
    return FLOAT_BYTES * per_pass * DECODES_PER_CLICK


def tracking_bytes(image_size: int, num_memories: int, max_pointers: int) -> int:
    """Estimated bytes of one part tracked over the views at `image_size` (S) px: the keys
    and values (256 channels) of the memory attention over `num_memories` memory frames
    of (S/16)^2 tokens and `max_pointers` object pointers (4 tokens each; the attention
    runs blockwise, its scores are not all held), the part's flattened features (twice)
    and its high-resolution mask. Measured at 512 px on the CPU: 16.8 MB per part in a
    batch of 6 (estimate 24.4 MB)."""
    tokens = (image_size // 16) ** 2
    keys = num_memories * tokens + 4 * max_pointers
    features = 256 * tokens + 64 * 4 * tokens + 32 * 16 * tokens
    return FLOAT_BYTES * (2 * 256 * keys + 2 * features + image_size**2)
