"""Per-user state of the demo.

Small, copyable data (the pending prompt) travels in ``gr.State``; the heavy
state of a user (mesh, rendered views, session history, picture caches, a temp
folder for the files the page shows) lives in a ``Store`` keyed by the Gradio
session hash and is dropped when the page unloads.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geosam2.session import Session


def empty_prompt(view: int = 0) -> dict:
    """The pending prompt kept in gr.State: its view, clicks [x, y, positive] and box corners [x, y]."""
    return {"view": view, "clicks": [], "box": []}


@dataclass(frozen=True)
class Settings:
    """What a user can set on the page (official values by default, 512 px views for CPU speed).

    Attributes
    ----------
    pa : float
        Clean-up threshold PA (relative part size below which fragments go).
    samples_per_face : int
        Visibility samples per face when lifting masks to faces.
    resolution : int
        Rendered view size in pixels (the release uses 1024; 512 keeps the CPU demo quick).
    segmenter : str
        Display name of the segmenter (demo.model.GEOSAM2 or GEOMETRY).
    auto_complete : bool
        Complete the unlabelled rest automatically after each new part.
    """

    pa: float = 0.02
    samples_per_face: int = 5
    resolution: int = 512
    segmenter: str = ""
    auto_complete: bool = False


@dataclass(frozen=True, eq=False)
class Candidates:
    """The segmenter's mask candidates for the pending prompt, on its view.

    Attributes
    ----------
    view : int, the prompt's view
    masks : (K, H, W) bool, distinct non-empty candidates, in the segmenter's order
    scores : (K,) float, the segmenter's score of each (predicted IoU for GeoSAM2)
    parent : int or None, the part they were restricted to (refining inside it)
    """

    view: int
    masks: np.ndarray
    scores: np.ndarray
    parent: int | None = None


@dataclass(eq=False)
class UserState:
    """Everything one user works on.

    Attributes
    ----------
    session : geosam2.session.Session
    settings : Settings used to build the session
    source : str, the loaded mesh file
    folder : Path, this user's temporary folder (viewer GLBs, downloads)
    base : (V, H, W, 3) uint8 view images without parts (normal or point maps)
    point_maps : bool, whether `base` shows point maps
    thumbnails : list of (h, w, 3) uint8, the gallery images with parts overlaid
    version : int, counts the changes of the labelling (names files, skips repeated exports)
    exported : int, the version the download files were written for
    candidates : Candidates or None, the candidates shown for the pending prompt
    """

    session: Session
    settings: Settings
    source: str
    folder: Path
    base: np.ndarray
    point_maps: bool = False
    thumbnails: list = field(default_factory=list)
    version: int = 0
    exported: int = -1
    candidates: Candidates | None = None


class Store:
    """Thread-safe map from session hash to UserState; replaced or dropped states lose their folder."""

    def __init__(self):
        self._users: dict[str, UserState] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> UserState | None:
        with self._lock:
            return self._users.get(key)

    def put(self, key: str, user: UserState) -> None:
        with self._lock:
            old = self._users.get(key)
            self._users[key] = user
        if old is not None and old.folder != user.folder:
            shutil.rmtree(old.folder, ignore_errors=True)

    def drop(self, key: str) -> None:
        with self._lock:
            old = self._users.pop(key, None)
        if old is not None:
            shutil.rmtree(old.folder, ignore_errors=True)

    def keys(self) -> list[str]:
        """Session hashes of the users with a loaded mesh, oldest first."""
        with self._lock:
            return list(self._users)
