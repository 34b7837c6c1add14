"""Prompt files of several granularities as one parts tree (the release's example ships
one point-prompt file per granularity: 20, 16, 10 and 8 parts of one object).

`add_prompt_levels(session, levels)` takes the `geosam2.io.prompt_files.PromptLevel`
of each file, coarsest first (`read_prompt_levels`): the coarsest level's objects
become top-level parts, each finer level's objects become children of the part of the
level above holding most of the faces they select. An object whose faces lie in no
part of the level above becomes a top-level part, and says so. Nothing is dropped
silently: the clicks a file's reader left out (``PromptLevel.ignored``), the objects
that select no face and those whose clicks the segmenter refuses (e.g. a click on the
background) are each said in a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PromptError
from ..io.prompt_files import PromptLevel


@dataclass(frozen=True)
class LevelParts:
    """What one prompt level made.

    Attributes
    ----------
    source : str, the prompt file's name
    parts : dict int -> int, the part id made for each object id (objects that made no
        part are absent)
    notes : tuple of str, every click or object left out or not nested, one sentence each
    """

    source: str
    parts: dict
    notes: tuple


def part_name(level: PromptLevel, object_id: int) -> str:
    """The name of the part of `object_id` of `level`: ``<file stem>_obj<id>``."""
    return f"{Path(level.source).stem}_obj{object_id}"


def add_prompt_levels(session, levels) -> tuple[LevelParts, ...]:
    """Add the objects of each of `levels` (PromptLevel, coarsest first) to `session`
    (a `geosam2.pipeline.session.Session`) as a parts tree, one undo step per parent
    group; returns one LevelParts per level, in the same order."""
    made, above = [], None
    for level in levels:
        result = _add_level(session, level, above)
        made.append(result)
        above = result.parts
    return tuple(made)


def _add_level(session, level: PromptLevel, above: dict | None) -> LevelParts:
    """Segment `level`'s prompts once, group them by parent (a part of `above`, the
    previous level's {object id: part id}, or None), add each group as children."""
    notes = [f"{level.source}: {sentence}" for sentence in level.ignored]
    kept, selected, masks = _selections(session, level, notes)
    row = {index: k for k, index in enumerate(kept)}
    groups: dict = {}
    for index, faces in zip(kept, selected):
        obj = level.object_ids[index]
        if not faces.any():
            notes.append(_no_face(level, obj))
            continue
        parent = None if above is None else _parent(session.labels[faces], above.values())
        if above is not None and parent is None:
            notes.append(f"{level.source}: object {obj} lies in no part of the level above, made a top-level part")
        groups.setdefault(parent, []).append(index)
    parts = {}
    for parent in sorted(groups, key=lambda p: (p is None, p)):  # children first: a top-level part takes faces from any part
        rows = [row[index] for index in groups[parent]]
        parts.update(_add_group(session, level, groups[parent], parent, (selected[rows], masks[rows]), notes))
    return LevelParts(level.source, parts, tuple(notes))


def _selections(session, level: PromptLevel, notes: list) -> tuple[list, np.ndarray, np.ndarray]:
    """(kept prompt indices, (K, E) bool faces each selects, (K, V, H, W) bool masks) of
    `level`, segmented together (`Session.add_parts` takes them as its `selection`);
    prompts the segmenter refuses alone (PromptError) are left out with a note."""
    kept = list(range(len(level.prompts)))
    try:
        return kept, *session.profile.prompting.select(session, list(level.prompts))
    except PromptError:
        pass
    for index in list(kept):
        try:
            session.selected_faces(level.prompts[index])
        except PromptError as exc:
            kept.remove(index)
            notes.append(f"{level.source}: object {level.object_ids[index]} dropped: {exc}")
    if not kept:
        return kept, np.zeros((0, len(session.labels)), bool), np.zeros((0, *session.views.face_ids.shape), bool)
    return kept, *session.profile.prompting.select(session, [level.prompts[i] for i in kept])


def _parent(labels: np.ndarray, candidates) -> int | None:
    """The part id among `candidates` most frequent in (N,) `labels`, None if none occurs."""
    candidates = np.fromiter(candidates, np.int64)
    counts = (labels[:, None] == candidates[None]).sum(0)
    return int(candidates[np.argmax(counts)]) if counts.max(initial=0) > 0 else None


def _no_face(level: PromptLevel, obj: int, parent: int | None = None) -> str:
    """The note of an object of `level` that selects no face (inside part `parent`)."""
    inside = "" if parent is None else f" inside part {parent}"
    return f"{level.source}: object {obj} selects no face{inside}, no part made"


def _add_group(session, level: PromptLevel, indices: list, parent: int | None, selection: tuple, notes: list) -> dict:
    """Add the objects `indices` of `level` as children of `parent` in one step, from
    their `selection` (`_selections`' faces and masks of those objects); returns
    {object id: part id} of those that made a part."""
    first_id = session.history.state.next_id
    objects = [level.object_ids[i] for i in indices]
    try:
        update = session.add_parts([level.prompts[i] for i in indices], parent, [part_name(level, obj) for obj in objects], selection)
    except PromptError as exc:
        notes.append(f"{level.source}: objects {', '.join(map(str, objects))} made no part: {exc}")
        return {}
    notes += [_no_face(level, objects[k], parent) for k in update.skipped]
    made = [obj for k, obj in enumerate(objects) if k not in update.skipped]
    return {obj: first_id + k for k, obj in enumerate(made)}
