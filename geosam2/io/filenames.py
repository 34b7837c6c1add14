"""File-safe names for exports, made from part names a user or an input file chose.

A name becomes a stem of at most NAME_CAP ASCII letters, digits, '_', '-' and
single '.' (no separators, no control characters, no '..', no leading dot), so
``../../x``, ``a\\nmap_Kd y`` or a NUL can neither leave the export's folder nor
add statements to an MTL file, and ZIP tools accept every entry.
"""

from __future__ import annotations

import re
from typing import Iterable

NAME_CAP = 64  # characters of an exported file name before its extension  # settings: moves to geosam2/settings.py
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
UNLABELLED_NAME = "unlabelled"  # the file of the elements no part owns


def safe_stem(text: str, fallback: str) -> str:
    """`text` reduced to a file-safe stem of at most NAME_CAP characters, or
    `fallback` (itself safe) when nothing is left."""
    stem = re.sub(r"\.{2,}", ".", UNSAFE.sub("_", str(text)))
    return stem[:NAME_CAP].strip("._-") or fallback


def unique_stems(items: Iterable[tuple[object, str, str]], taken: Iterable[str] = ()) -> dict:
    """{key: stem} for (key, text, fallback) items: `safe_stem(text, fallback)`,
    made unique (also against `taken`) by a suffix ``_<key>`` (then a counter)
    within NAME_CAP."""
    used, stems = set(taken), {}
    for key, text, fallback in items:
        stem, counter = safe_stem(text, fallback), 0
        while stem in used:
            counter += 1
            suffix = f"_{key}" if counter == 1 else f"_{key}_{counter}"
            stem = safe_stem(text, fallback)[: NAME_CAP - len(suffix)] + suffix
        used.add(stem)
        stems[key] = stem
    return stems
