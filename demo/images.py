"""Pictures the demo shows: view images with part colours and prompt markers."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from geosam2.model.encode import normal_image_uint8
from geosam2.render import Views

POSITIVE, NEGATIVE, BOX, CANDIDATE = (40, 200, 60), (220, 40, 40), (250, 200, 20), (30, 110, 255)


def base_images(views: Views, point_maps: bool = False) -> np.ndarray:
    """(V, H, W, 3) uint8 view images: normal maps on white, or point maps (XYZ as RGB) on white."""
    if not point_maps:
        return normal_image_uint8(views)
    image = np.round((views.points + 1.0) * 127.5).astype(np.uint8)
    image[~views.silhouette] = 255
    return image


def overlay_labels(images: np.ndarray, face_ids: np.ndarray, labels: np.ndarray, colours: dict, shading: float = 0.5) -> np.ndarray:
    """Paint each pixel of a part in the part's colour, shaded by the image beneath.

    A labelled pixel is the part's colour times ``1 - shading + shading * g``, where g
    in [0, 1] is the image's grey level there: the colour stays the part's (normal
    maps blended in would shift its hue towards the surface's direction), and the
    shape stays readable.

    Parameters
    ----------
    images : (..., H, W, 3) uint8
    face_ids : (..., H, W) int, face shown by each pixel, -1 = background
    labels : (F,) int, part id per face, -1 = unlabelled
    colours : dict, part id -> RGB(A) 0-255
    shading : float in [0, 1], how much the image's grey level darkens the colour

    Returns
    -------
    (..., H, W, 3) uint8; unlabelled faces and the background are unchanged.
    """
    if not colours:
        return images
    size = max(max(colours), int(labels.max(initial=-1))) + 2  # last entry: unlabelled / background
    table = np.zeros((size, 3), np.float32)
    painted = np.zeros(size, bool)
    for part, rgb in colours.items():
        table[part], painted[part] = rgb[:3], True
    face_labels = np.append(labels, -1)[face_ids]  # background (-1) reads the appended -1
    mask = painted[face_labels]
    out = images.astype(np.float32)
    grey = out[mask].mean(-1, keepdims=True) / 255.0
    out[mask] = table[face_labels[mask]] * (1.0 - shading + shading * grey)
    return out.round().astype(np.uint8)


def overlay_mask(image: np.ndarray, mask: np.ndarray, colour=CANDIDATE, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) uint8 `image` with `colour` blended over the pixels of (H, W) bool `mask`."""
    out = image.copy()
    out[mask] = ((1 - alpha) * image[mask] + alpha * np.asarray(colour, np.float32)).round().astype(np.uint8)
    return out


def draw_prompts(image: np.ndarray, clicks, box_corners) -> Image.Image:
    """The prompt view with its clicks and box.

    Parameters
    ----------
    image : (H, W, 3) uint8
    clicks : sequence of (x, y, positive) in pixels; green positive, red negative
    box_corners : zero, one (a pending corner) or two (x, y) corners of a box, yellow
    """
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    radius = max(3, image.shape[0] // 80)
    for x, y, positive in clicks:
        colour = POSITIVE if positive else NEGATIVE
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline=(255, 255, 255), width=2)
    if len(box_corners) == 1:
        x, y = box_corners[0]
        draw.rectangle([x - radius, y - radius, x + radius, y + radius], outline=BOX, width=3)
    elif len(box_corners) == 2:
        (x0, y0), (x1, y1) = box_corners
        draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=BOX, width=3)
    return picture


def hex_colour(rgba) -> str:
    """'#rrggbb' of an RGB(A) 0-255 colour."""
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgba[:3]))
