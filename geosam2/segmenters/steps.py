"""Progress and cancellation of one long automatic run (segment everything, auto-complete).

A `Steps` is made by whoever starts the run (the demo's event, the command line) and
passed down: the completion splits it per view and per stage (`Steps.stage`), the
network's loops report each batch (`Steps.done`) and stop between batches once it is
cancelled (`Steps.cancel`, from any thread), raising `Cancelled` with what they
finished. The completion keeps those parts: a cancelled run keeps what it found.

A copy in another process (pickled, e.g. ZeroGPU's worker) reports nowhere and is
never cancelled: there the network's call runs to its end.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["Cancelled", "Steps"]


class Cancelled(Exception):
    """A run stopped early because its `Steps` was cancelled.

    Attributes
    ----------
    found : what the stopped call had finished (e.g. the `PartMasks` of its parts with
        `finished` (P,) bool saying which are done), or None when nothing of it is usable.
    finished : (P,) bool or None
    """

    def __init__(self, found=None, finished=None):
        super().__init__("the run was cancelled")
        self.found = found
        self.finished = finished


class _Flag:
    """The cancel flag all stages of one run share (a plain bool: set from any thread)."""

    def __init__(self):
        self.set = False


class Steps:
    """Where one run reports its progress and learns that it is cancelled.

    Parameters
    ----------
    report : callable ``report(fraction, text)`` or None
        Called with the share of the whole run done (float in [0, 1]) and what is
        being done ("view 6: proposing parts, clicks 65-128 of 4096"); None: silent.
    """

    def __init__(self, report: Callable[[float, str], None] | None = None):
        self._report = report
        self._flag = _Flag()
        self._span = (0.0, 1.0)
        self._label = ""

    def cancel(self) -> None:
        """Ask the run to stop at its next batch (it keeps what it finished)."""
        self._flag.set = True

    @property
    def cancelled(self) -> bool:
        return self._flag.set

    def check(self, found=None, finished=None) -> None:
        """Raise `Cancelled` (with `found` and `finished`) when the run was cancelled."""
        if self._flag.set:
            raise Cancelled(found, finished)

    def stage(self, index: int, count: int, label: str) -> "Steps":
        """The `index`-th of `count` equal shares of this run's span, named `label`
        (after this one's label); reporting to the same place, cancelled together."""
        start, end = self._span
        child = Steps(self._report)
        child._flag = self._flag
        child._span = (start + (end - start) * index / count, start + (end - start) * (index + 1) / count)
        child._label = f"{self._label}: {label}" if self._label else label
        return child

    def done(self, finished: int, total: int, text: str = "") -> None:
        """Report that `finished` of the `total` units of this stage are done (`text`
        says which); nothing when the run is silent."""
        if self._report is None:
            return
        start, end = self._span
        share = finished / total if total else 1.0
        self._report(start + (end - start) * share, ", ".join(t for t in (self._label, text) if t))

    def __getstate__(self):
        """A pickled copy (another process) keeps its span and label only: silent, never cancelled."""
        return {"_report": None, "_flag": _Flag(), "_span": self._span, "_label": self._label}
