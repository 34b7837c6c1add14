"""Write labelled point clouds: binary PLY files, per-part PLYs in a ZIP, labels."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from .filenames import UNLABELLED_NAME, safe_stem, unique_stems
from .palette import UNLABELLED_COLOR, part_palette
from .pointcloud import PointCloud


def write_ply(
    path: str | os.PathLike,
    points: np.ndarray,
    normals: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> None:
    """Write a binary little-endian PLY point set: float x y z, [float nx ny nz],
    [uchar red green blue alpha], [int label]."""
    columns = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    columns += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")] if normals is not None else []
    columns += [(c, "u1") for c in ("red", "green", "blue", "alpha")] if colors is not None else []
    columns += [("label", "<i4")] if labels is not None else []
    data = np.zeros(len(points), columns)
    for name, values in (("xyz", points), (("nx", "ny", "nz"), normals), (("red", "green", "blue", "alpha"), colors)):
        if values is not None:
            for i, column in enumerate(name):
                data[column] = values[:, i]
    if labels is not None:
        data["label"] = labels
    kinds = {"<f4": "float", "u1": "uchar", "<i4": "int"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(points)}"]
    header += [f"property {kinds[t]} {n}" for n, t in columns] + ["end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())


def export_point_cloud(cloud: PointCloud, labels: np.ndarray, folder: str | os.PathLike, part_names=None) -> dict:
    """Write a labelled point cloud in the file's own frame, for download.

    Files (named after ``cloud.name``): ``<name>_parts.ply`` (every point coloured
    by part, with its label as an int property), ``<name>_parts.zip`` (one PLY per
    part, ``<part>.ply``, plus ``unlabelled.ply`` if any), ``<name>_labels.npy``
    ((N,) int32, -1 = unlabelled) and ``<name>_labels.json`` (parts, names, file
    names, counts). ``<name>`` and ``<part>`` are file-safe, unique stems of the
    cloud's and the parts' names (`geosam2.io.filenames`).

    Parameters
    ----------
    cloud : PointCloud
    labels : (N,) int, -1 = unlabelled
    folder : output folder (created)
    part_names : sequence of str, optional, one per label 0..P-1

    Returns
    -------
    {"ply": path, "zip": path, "npy": path, "json": path}
    """
    labels = np.asarray(labels, np.int32)
    if labels.shape != (cloud.num_points,):
        raise ValueError(f"labels must have shape ({cloud.num_points},), got {labels.shape}")
    num_parts = int(labels.max(initial=-1)) + 1
    names = list(part_names) if part_names is not None else [f"part_{p:02d}" for p in range(num_parts)]
    if len(names) < num_parts:
        raise ValueError(f"{len(names)} part names for {num_parts} parts")
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, safe_stem(cloud.name, "points"))
    file_names = unique_stems(((p, names[p], f"part_{p:02d}") for p in range(num_parts)), taken=(UNLABELLED_NAME,))
    file_names[-1] = UNLABELLED_NAME
    points, normals = cloud.file_points(), cloud.file_normals()
    palette = np.concatenate([part_palette(num_parts), UNLABELLED_COLOR[None]])
    colors = palette[np.where(labels >= 0, labels, num_parts)]
    paths = {"ply": stem + "_parts.ply", "zip": stem + "_parts.zip", "npy": stem + "_labels.npy", "json": stem + "_labels.json"}
    write_ply(paths["ply"], points, normals, colors, labels)
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(paths["zip"], "w", zipfile.ZIP_DEFLATED) as archive:
        for p, name in file_names.items():
            members = labels == p
            if members.any():
                part_path = os.path.join(scratch, f"{name}.ply")
                write_ply(part_path, points[members], normals[members], colors[members])
                archive.write(part_path, f"{name}.ply")
    np.save(paths["npy"], labels)
    counts = np.bincount(labels[labels >= 0], minlength=num_parts)
    summary = {
        "name": cloud.name,
        "num_points": cloud.num_points,
        "unlabelled_points": int((labels < 0).sum()),
        "parts": [
            {"label": p, "name": names[p], "file_name": file_names[p], "points": int(counts[p]), "color": palette[p, :3].tolist()}
            for p in range(num_parts)
        ],
    }
    with open(paths["json"], "w") as f:
        json.dump(summary, f, indent=1)
    return paths
