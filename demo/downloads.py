"""The download buttons: files written once per state of the parts, never out of date.

A change of the labelling shows the buttons as *preparing* (no file, so a click
cannot fetch an older one); the page then asks for the files (`prepare`), which
writes them for the newest state, again if the parts changed meanwhile, and
gives them to the buttons, then their labels. A click on a button without a file says why.
"""

from __future__ import annotations

import gradio as gr

from .state import UserState

DOWNLOADS = ("glb", "scene", "zip", "json")
DOWNLOAD_LABELS = {
    "glb": "Preview GLB, coloured by part",
    "scene": "Parts GLB, the input's look",
    "zip": "ZIP: one GLB and OBJ per part",
    "json": "Labels JSON (part of each face)",
}
DOWNLOAD_OUTPUTS = tuple(f"download_{name}" for name in DOWNLOADS)
PREPARING = " (preparing…)"
NO_PARTS = "No parts to download yet: click on a part and press Segment part first."
BEING_PREPARED = "The files of the parts shown are being prepared (a few seconds): the buttons hold them when ready."


def labels(preparing: bool) -> list:
    """The buttons' labels in DOWNLOADS order, saying when the files are being prepared."""
    return [DOWNLOAD_LABELS[name] + (PREPARING if preparing else "") for name in DOWNLOADS]


def buttons(files: dict | None, preparing: bool = False) -> dict:
    """Updates of the download buttons by output name: `files` (kind -> path; None: no
    file) and their labels."""
    return {
        output: gr.update(value=None if files is None else files[name], label=label)
        for name, output, label in zip(DOWNLOADS, DOWNLOAD_OUTPUTS, labels(preparing))
    }


def shown_buttons(user: UserState) -> dict:
    """The buttons after the labelling changed: preparing while the files are older than the parts."""
    if user.exported == user.version:
        return buttons(user.files)
    return buttons(None, preparing=bool(user.session.parts))


def prepare(user: UserState) -> dict | None:
    """Write the download files of the user's current labelling (once per state of it,
    again while it changes meanwhile); returns them by kind, None when there is no part.
    Raises OSError when the user's folder is gone (the page closed)."""
    with user.exporting:
        while user.exported != user.version:
            version = user.version
            files = user.workspace.export(user.folder / f"export_{version}") if user.session.parts else None
            user.files, user.exported = files, version  # a change during the export makes the loop write again
        return user.files


def click_message(user: UserState | None) -> str | None:
    """What a click on a download button says when the button has no file yet (None: nothing)."""
    if user is None or not user.session.parts:
        return NO_PARTS
    if user.exported != user.version:
        return BEING_PREPARED
    return None
