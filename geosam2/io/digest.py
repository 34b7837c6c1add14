"""What identifies a file's content wherever it lies: its SHA-256."""

from __future__ import annotations

import hashlib
import os

BLOCK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of the file at `path`, read in blocks of `BLOCK_BYTES`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()
