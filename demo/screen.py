"""What the page shows of a user's state: the outputs' names, the views with parts, the 3D
view's GLB, the parts tree and the status line's mesh part."""

from __future__ import annotations

import functools
from dataclasses import replace

import gradio as gr

from geosam2.errors import GeoSAM2Error
from geosam2.io.export import write_colored_glb
from geosam2.pipeline.session import Session

from .downloads import DOWNLOAD_OUTPUTS, DOWNLOADS  # noqa: F401  (DOWNLOADS: the files' kinds, for the tests)
from .images import draw_prompts, hex_colour, overlay_labels
from .meshes import viewer_frame
from .state import UserState

OUTPUTS = ("gallery", "prompt_image", "viewer", "parts", "part", "status", "levels", "prompt") + DOWNLOAD_OUTPUTS
LOAD_OUTPUTS = OUTPUTS + ("mesh_file",)  # a refused file is cleared from the file box
PARTS_HEADERS = ["id", "name", "colour", "area %", "parent"]
PARTS_ROWS_EMPTY = [["", "no parts yet", "", "", ""]]
TREE_INDENT, TREE_BRANCH = "\u2003\u2003", "\u2003\u2514 "  # em spaces (kept by HTML) and a corner before a child's name
DIMMED = 0.65  # how far parts other than the selected one fade to white in the 3D view


def only(**values) -> tuple:
    """One value per name in OUTPUTS: those given, every other one unchanged (gr.skip())."""
    return tuple(values.get(name, gr.skip()) for name in OUTPUTS)


def user_errors(handler):
    """Wrap a handler returning OUTPUTS: a GeoSAM2Error it raises (the user's mistake)
    shows its message as a warning, and the page is left as it was."""

    @functools.wraps(handler)
    def run(self, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except GeoSAM2Error as exc:
            gr.Warning(str(exc))
            return only()

    return run


def unlabelled_share(session: Session) -> float:
    """Share of the surface area no part owns yet, in [0, 1]."""
    areas = session.mesh.face_areas
    return float(areas[session.labels < 0].sum() / areas.sum())


def widest_view(views) -> int:
    """The view showing most of the object (the largest silhouette): the first one to prompt on."""
    return int(views.silhouette.reshape(views.num_views, -1).sum(1).argmax())


def camera_on_view(views, view: int) -> tuple:
    """(alpha, beta, radius) in degrees of the 3D view's camera (Babylon's arc-rotate
    camera around the glTF scene) looking at the object as view `view` does (the
    views' Z-up frame is glTF's Y-up one, `demo.meshes.viewer_frame`, and Babylon
    keeps glTF's handedness; None radius: the viewer's default distance)."""
    azimuth, elevation = float(views.rig.azimuths_deg[view]), float(views.rig.elevations_deg[view])
    return ((-azimuth) % 360.0, 90.0 - elevation, None)


def tree_order(parts) -> list:
    """(part, depth) of every part depth first: each part followed by its children
    (depth 0: a top-level part), siblings in their order in `parts`."""
    ordered = []

    def add_children(parent: int | None, depth: int) -> None:
        for part in parts:
            if part.parent == parent:
                ordered.append((part, depth))
                add_children(part.id, depth + 1)

    add_children(None, 0)
    return ordered


def parts_rows(session: Session) -> list:
    """Rows of the parts list as a tree: each part followed by its children, whose names
    are indented by their depth. Columns: id, name, colour swatch, surface %, parent name."""
    if not session.parts:
        return PARTS_ROWS_EMPTY
    names = {p.id: p.name for p in session.parts}
    return [
        [
            p.id,
            TREE_INDENT * (depth - 1) + TREE_BRANCH + p.name if depth else p.name,
            f'<span style="color:{hex_colour(p.color)}" title="{hex_colour(p.color)}">&#9632;&#9632;</span>',
            round(100 * p.area_share, 1),
            names.get(p.parent, ""),
        ]
        for p, depth in tree_order(session.parts)
    ]


def mesh_status(user: UserState) -> str:
    """The status line's mesh part: name, faces (and the proxy's), views, parts, unlabelled share."""
    session, full = user.session, user.workspace.full
    faces = f"{full.num_faces:,} faces"
    if user.workspace.workpiece.on_proxy:
        faces += f" (parts found on a simplified copy of {session.mesh.num_faces:,})"
    return (
        f"**Mesh:** {session.mesh.name}, {faces}, {session.views.num_views} views of {session.views.resolution} px. "
        f"**Parts:** {len(session.parts)}; {100 * unlabelled_share(session):.1f} % of the surface unlabelled."
    )


class Pictures:
    """The pictures of a user's state: gallery thumbnails, the prompt image, the 3D view's GLB.

    Parameters
    ----------
    thumbnail : int, gallery image size in pixels (views are subsampled to about this size)
    """

    def __init__(self, thumbnail: int):
        self.thumbnail = thumbnail

    def stride(self, user: UserState) -> int:
        """Subsampling of a view to a gallery image."""
        return max(1, user.session.views.resolution // self.thumbnail)

    def refresh_thumbnails(self, user: UserState, views) -> None:
        """Redraw the gallery images of `views` (all when the cache is empty)."""
        session, stride = user.session, self.stride(user)
        if len(user.thumbnails) != session.views.num_views:
            user.thumbnails, views = [None] * session.views.num_views, range(session.views.num_views)
        colours = {p.id: p.color for p in session.parts}
        for v in views:
            face_ids = session.views.face_ids[v, ::stride, ::stride]
            user.thumbnails[v] = overlay_labels(user.base[v, ::stride, ::stride], face_ids, session.labels, colours)

    @staticmethod
    def gallery(user: UserState) -> list:
        return [(image, f"view {v}") for v, image in enumerate(user.thumbnails)]

    @staticmethod
    def prompt_image(user: UserState, prompt: dict):
        """The prompt's view with the parts and the pending clicks and box drawn."""
        session, view = user.session, prompt["view"]
        colours = {p.id: p.color for p in session.parts}
        image = overlay_labels(user.base[view], session.views.face_ids[view], session.labels, colours)
        return draw_prompts(image, prompt["clicks"], prompt["box"])

    def viewer(self, user: UserState, selected: int | None) -> str:
        """The 3D view's GLB: the input's look (textures) before the first part or when
        the user asks for it, else the parts in colour (`viewer_glb`)."""
        if user.textured or not user.session.parts:
            return user.look
        return self.viewer_glb(user, selected)

    @staticmethod
    def viewer_glb(user: UserState, selected: int | None) -> str:
        """Write the 3D view's GLB, in the frame of the views: faces coloured by part,
        parts other than `selected` faded."""
        session = user.session
        parts = session.parts
        if selected is not None and any(p.id == selected for p in parts):
            fade = lambda c: tuple(int(round(v + DIMMED * (255 - v))) for v in c[:3]) + (255,)  # noqa: E731
            parts = tuple(p if p.id == selected else replace(p, color=fade(p.color)) for p in parts)
        path = user.folder / f"{session.mesh.name}_view_{user.version}_{selected}.glb"
        write_colored_glb(path, viewer_frame(session.mesh), session.labels, parts)
        return str(path)
