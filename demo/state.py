"""Per-user state of the demo.

Small, copyable data (the pending prompt) travels in ``gr.State``; the heavy
state of a user (mesh, rendered views, session history, picture caches, a temp
folder for the files the page shows) lives in a ``Store`` keyed by the Gradio
session hash and is dropped when the page unloads, when unused for a while, or
when the store is over budget (the least recently used first).
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geosam2.errors import GeoSAM2Error
from geosam2.pipeline.session import Session
from geosam2.pipeline.workspace import Workspace
from geosam2.settings import DEMO_RESOLUTION, Settings

from .memory import held_bytes

DEMO_DEFAULTS = Settings(resolution=DEMO_RESOLUTION)
"""The demo's settings before the environment's: the release's, with 512 px views for CPU speed."""


class NoMeshError(GeoSAM2Error):
    """The user has no mesh loaded: none yet, or their state was dropped (idle, or to free memory)."""


def demo_settings(environ=os.environ) -> Settings:
    """The server's settings: `DEMO_DEFAULTS`, then the environment's variables
    (face budget and limit, memory budgets; see `geosam2.settings`)."""
    return Settings.from_env(environ, resolution=DEMO_DEFAULTS.resolution)


@dataclass(frozen=True)
class PageSettings:
    """What a user set on the page when loading a mesh.

    Attributes
    ----------
    run : Settings, the server's with the user's PA, samples per face, resolution and profile
    segmenter : str, display name of the segmenter (demo.model.GEOSAM2 or GEOMETRY)
    up : str, the file's up axis (demo.meshes.UP_AXES), "" as the loader reads its file type
    """

    run: Settings = DEMO_DEFAULTS
    segmenter: str = ""
    up: str = ""


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
    workspace : geosam2.pipeline.workspace.Workspace, the file's mesh, its session and exports
    settings : PageSettings the workspace was made with
    source : str, the loaded mesh file
    folder : Path, this user's temporary folder (viewer GLBs, downloads)
    base : (V, H, W, 3) uint8 view images without parts (normal or point maps)
    point_maps : bool, whether `base` shows point maps
    thumbnails : list of (h, w, 3) uint8, the gallery images with parts overlaid
    version : int, counts the changes of the labelling (names files, skips repeated exports)
    exported : int, the version the download files were written for
    files : dict or None, the download files of version `exported` by kind (None: no part then)
    exporting : threading.Lock, held while the download files are written
    candidates : Candidates or None, the candidates shown for the pending prompt
    earlier : list of Workspace, the labellings Reset set aside, the latest last (Undo goes back to them)
    later : list of Workspace, those Undo left after a Reset, the next first (Redo comes back to them)
    textured : bool, whether the 3D view shows the input's look rather than the part colours
    look : str, the GLB of the mesh with the input's look (demo.meshes.PreparedMesh.look)
    browse : demo.hierarchy.LevelBrowse or None, the levels of the last Segment everything's parts
    holds : int, how many events use this state now (`Store.holding`: kept, its folder too)
    """

    workspace: Workspace
    settings: PageSettings
    source: str
    folder: Path
    base: np.ndarray
    point_maps: bool = False
    thumbnails: list = field(default_factory=list)
    version: int = 0
    exported: int = -1
    files: dict | None = None
    exporting: threading.Lock = field(default_factory=threading.Lock)
    candidates: Candidates | None = None
    earlier: list = field(default_factory=list)
    later: list = field(default_factory=list)
    textured: bool = False
    look: str = ""
    browse: object = None
    holds: int = 0

    @property
    def session(self) -> Session:
        """The workspace's session (on the proxy when the mesh is above the face budget)."""
        return self.workspace.session


class Store:
    """Thread-safe map from session hash to UserState, bounded in bytes and idle time.

    A user whose page sends no heartbeat (an API client) never triggers the
    page's unload, so the store drops states itself: a state unused for
    `idle_seconds`, and the least recently used ones while the states hold more
    than `max_bytes` (the one just stored is kept), never one an event is using
    (`holding`). A dropped or replaced state loses its temporary folder (when the
    last event using it ends); nothing else refers to it, so its memory is freed.

    Parameters
    ----------
    max_bytes : int
        Budget of the states' arrays (see `demo.memory.held_bytes`).
    idle_seconds : float
    clock : callable returning seconds (time.monotonic; tests pass a fake clock)
    """

    def __init__(self, max_bytes: int = DEMO_DEFAULTS.store_bytes, idle_seconds: float = DEMO_DEFAULTS.idle_seconds, clock=time.monotonic):
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._users: OrderedDict[str, UserState] = OrderedDict()  # least recently used first
        self._sizes: dict[str, int] = {}
        self._used: dict[str, float] = {}
        self._retired: list[UserState] = []  # dropped, their folder kept while an event uses them
        self._lock = threading.Lock()

    def get(self, key: str) -> UserState | None:
        """The user's state (now its most recent use), or None when there is none (any more)."""
        with self._lock:
            dropped = self._evict(keep=None)  # an idle state is gone, even for its own user
            user = self._users.get(key)
            if user is not None:
                self._users.move_to_end(key)
                self._used[key] = self.clock()
                self._sizes[key] = held_bytes(user)  # the history grows with every part
                dropped += self._evict(keep=key)
        self._retire(dropped)
        return user

    def put(self, key: str, user: UserState) -> None:
        """Store `user` as the state of `key` (its previous state is dropped)."""
        size = held_bytes(user)
        with self._lock:
            old = self._users.pop(key, None)
            self._users[key], self._sizes[key], self._used[key] = user, size, self.clock()
            dropped = self._evict(keep=key)
        if old is not None and old.folder != user.folder:
            dropped.append(old)
        self._retire(dropped)

    @contextmanager
    def holding(self, key: str):
        """Keep the state of `key` (if any) while the block runs: not evicted, and its
        folder kept even if the state is dropped or replaced meanwhile."""
        with self._lock:
            user = self._users.get(key)
            if user is not None:
                user.holds += 1
        try:
            yield user
        finally:
            if user is not None:
                with self._lock:
                    user.holds -= 1
                self._retire([])

    def drop(self, key: str) -> None:
        """Forget the state of `key` and remove its folder."""
        with self._lock:
            dropped = [self._pop(key)] if key in self._users else []
        self._retire(dropped)

    def sweep(self) -> None:
        """Drop the idle states (and, if over budget, the least recently used)."""
        with self._lock:
            dropped = self._evict(keep=None)
        self._retire(dropped)

    def clear(self) -> None:
        """Drop every state (at shutdown)."""
        with self._lock:
            dropped = [self._pop(key) for key in list(self._users)]
        self._retire(dropped)

    def keys(self) -> list[str]:
        """Session hashes of the users with a loaded mesh, least recently used first."""
        with self._lock:
            return list(self._users)

    @property
    def nbytes(self) -> int:
        """Bytes the states held when last used."""
        with self._lock:
            return sum(self._sizes.values())

    def _pop(self, key: str) -> UserState:
        del self._sizes[key], self._used[key]
        return self._users.pop(key)

    def _evict(self, keep: str | None) -> list[UserState]:
        """Pop the idle states, then the least recently used while over budget, never `keep` (lock held)."""
        now = self.clock()
        free = [key for key in self._users if key != keep and self._users[key].holds == 0]
        dropped = [self._pop(key) for key in free if now - self._used[key] > self.idle_seconds]
        for key in free:
            if sum(self._sizes.values()) <= self.max_bytes:
                break
            if key in self._users:
                dropped.append(self._pop(key))
        return dropped

    def _retire(self, users) -> None:
        """Remove the folders of the dropped `users` no event uses, now; the others' when
        their last event ends (`holding`)."""
        with self._lock:
            self._retired.extend(users)
            gone = [user for user in self._retired if user.holds == 0]
            self._retired = [user for user in self._retired if user.holds > 0]
        for user in gone:
            shutil.rmtree(user.folder, ignore_errors=True)


def edited(user: UserState) -> None:
    """Note a change of the user's labelling: a new version, and no Redo past a Reset any more."""
    user.version += 1
    user.later.clear()


def holding_user(handler):
    """A DemoApp handler run with its user's state held (`Store.holding`: neither evicted
    nor its folder removed meanwhile), the user named by the handler's `request`."""
    signature = inspect.signature(handler)

    @functools.wraps(handler)
    def run(self, *args, **kwargs):
        request = signature.bind_partial(self, *args, **kwargs).arguments.get("request")
        if request is None:
            return handler(self, *args, **kwargs)
        with self.store.holding(request.session_hash):
            return handler(self, *args, **kwargs)

    return run
