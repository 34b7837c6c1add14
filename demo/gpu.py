"""The network's work on Hugging Face ZeroGPU, one call at a time in a GPU worker process.

ZeroGPU (the `spaces` package) runs a function decorated with ``spaces.GPU`` in a
worker process that holds a GPU for that call only: the arguments and the result are
pickled across, whatever the call changes in memory stays in the worker, and CUDA
must not be touched anywhere else. So the demo's handlers run in the server's process
as everywhere (each user's session, history and files, and the features every user
of a mesh shares, stay there) and only the network's work goes to the worker, through
`ZeroGPURunner`, a runner of `geosam2.segmenters.network`: view features, masks and
the release's run state come back on the CPU. Each call books GPU time for the work
it asks for (`GpuTime`), so that a click does not ask for a whole minute.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

_NETWORK = None
"""The shared network, on the CPU in the server (`install`); the worker, a fork of the
server, finds it here and moves it to its GPU once (`_network_on_gpu`)."""


def spaces_gpu():
    """`spaces.GPU` when the `spaces` package (Hugging Face ZeroGPU) is installed, else None."""
    try:
        import spaces
    except ImportError:
        return None
    return spaces.GPU


def install(network) -> None:
    """Make `network` (on the CPU) the one GPU calls run."""
    global _NETWORK
    _NETWORK = network


def moved(value, device):
    """`value` with every torch tensor in it on `device` (inside lists, tuples, dicts and
    dataclasses, e.g. `ViewFeatures`, `Propagation`); other objects as they are."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device)
    if type(value) in (list, tuple):
        return type(value)(moved(item, device) for item in value)
    if type(value) is dict:
        return {key: moved(item, device) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: moved(getattr(value, f.name), device) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


def _network_on_gpu():
    """The installed network on this process's GPU (moved there on first use), or as it is without one."""
    import torch

    if torch.cuda.is_available() and _NETWORK.device.type != "cuda":
        _NETWORK.to("cuda")
    return _NETWORK


def _run(function, args: tuple, seconds: float):
    """In the GPU worker: ``function(network, *args)`` with the arguments' tensors on the
    network's device. Returns (the result with its tensors on the CPU, seconds `function`
    took: the network's move and the transfers are the `GpuTime.overhead`)."""
    network = _network_on_gpu()
    args = moved(args, network.device)
    started = time.perf_counter()
    result = function(network, *args)
    seconds = time.perf_counter() - started
    return moved(result, "cpu"), seconds


def _booked_seconds(function, args: tuple, seconds: float) -> float:
    """The GPU time `_run` asks ZeroGPU for: the caller's estimate (`GpuTime.seconds`)."""
    return seconds


@dataclass
class GpuTime:
    """How many seconds of GPU a call asks for: `overhead` + work units x seconds per
    unit, at most `cap` (ZeroGPU refuses longer calls, or takes them off the visitor's
    quota). The seconds per unit start at `per_unit` and follow the calls' measured
    times, with a `margin`.

    Attributes (seconds)
    ----------
    per_unit : float, one network frame pass (an encoded view, a propagated frame of one part)
    overhead : float, the worker's start and the network's move to the GPU
    cap : float
    margin : float, factor over the measured time per unit
    """

    per_unit: float = 0.25
    overhead: float = 10.0
    cap: float = 120.0
    margin: float = 2.0

    def seconds(self, work: int) -> float:
        """The seconds to ask for a call of `work` units."""
        return min(self.cap, self.overhead + max(1, work) * self.per_unit)

    def measured(self, work: int, seconds: float) -> None:
        """Follow a call of `work` units that took `seconds` in the worker."""
        self.per_unit = self.margin * seconds / max(1, work)


class ZeroGPURunner:
    """Runs the network's work (`geosam2.segmenters.network` runners) in ZeroGPU's worker.

    Parameters
    ----------
    network : GeoSAM2 on the CPU, shared by every user (`install`ed here)
    gpu : the `spaces.GPU` decorator (a stand-in in the tests)
    time : GpuTime, how much GPU time each call asks for
    """

    def __init__(self, network, gpu, time: GpuTime | None = None):
        install(network)
        self.network = network
        self.time = GpuTime() if time is None else time
        self._call = gpu(duration=_booked_seconds)(_run)

    def __call__(self, function, model, *args, work: int = 1):
        """``function(model, *args)`` in the worker; `model` must be the installed network."""
        if model is not self.network:
            raise ValueError("ZeroGPURunner runs the network it was made with only.")
        result, seconds = self._call(function, args, self.time.seconds(work))
        self.time.measured(work, seconds)
        return result
