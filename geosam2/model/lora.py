"""LoRA on the Q and V slices of Hiera's fused qkv projections (the official layout).

The release wraps every trunk block's ``attn.qkv`` linear in a module holding
the frozen linear as ``qkv`` and four rank-r matrices ``linear_{a,b}_{q,v}``:

    out = qkv(x);  out[..., :d_in] += B_q(A_q(x));  out[..., -d_in:] += B_v(A_v(x))

with qkv's output laid out [q | k | v] and d_in = qkv.in_features (at a stage
transition the delta covers the first half of Q and the last half of V). The
delta is added unscaled (peft's lora_alpha = r), without dropout; A is
kaiming-uniform initialised and B is zero, so a fresh adapter changes nothing.
Without autograd (inference) the deltas are folded into the qkv weight first,
which computes the same projection in one matrix product.

peft configures it: a `peft.LoraConfig` names the rank, the scaling and the
target modules, and peft's own matcher picks the modules to wrap.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from peft import LoraConfig
from peft.tuners.tuners_utils import check_target_module_exists
from torch import nn

LORA_TARGET = "attn.qkv"  # every Hiera block's fused qkv projection


def official_lora_config(rank: int = 4) -> LoraConfig:
    """The release's adapter: rank `rank`, unscaled (alpha = r), no dropout, on ``attn.qkv``."""
    return LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=[LORA_TARGET], bias="none")


class LoRAQKV(nn.Module):
    """A frozen qkv linear plus rank-r LoRA deltas on its Q and V output slices.

    Parameters
    ----------
    qkv : nn.Linear
        The wrapped projection, d_in -> 3 * d_out (d_out >= d_in).
    rank : int
        LoRA rank r.
    scaling : float
        Factor on the deltas (1.0 in the release).

    Input/output: (..., d_in) float -> (..., 3 * d_out) float.
    """

    def __init__(self, qkv: nn.Linear, rank: int, scaling: float = 1.0):
        super().__init__()
        self.qkv = qkv
        self.scaling = scaling
        d_in = qkv.in_features
        self.linear_a_q = nn.Linear(d_in, rank, bias=False)
        self.linear_b_q = nn.Linear(rank, d_in, bias=False)
        self.linear_a_v = nn.Linear(d_in, rank, bias=False)
        self.linear_b_v = nn.Linear(rank, d_in, bias=False)
        for a, b in ((self.linear_a_q, self.linear_b_q), (self.linear_a_v, self.linear_b_v)):
            nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
            nn.init.zeros_(b.weight)

    def merged_weight(self) -> torch.Tensor:
        """(3 * d_out, d_in) qkv weight with the scaled deltas B @ A added to its Q and V rows."""
        d_in = self.qkv.in_features
        weight = self.qkv.weight.clone()
        weight[:d_in] += self.scaling * self.linear_b_q.weight @ self.linear_a_q.weight
        weight[-d_in:] += self.scaling * self.linear_b_v.weight @ self.linear_a_v.weight
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():  # inference: one projection with the deltas folded in
            return F.linear(x, self.merged_weight(), self.qkv.bias)  # merging costs O(d^2), x @ W O(N d^2)
        out = self.qkv(x)
        d_in = self.qkv.in_features
        delta_q = self.scaling * self.linear_b_q(self.linear_a_q(x))
        delta_v = self.scaling * self.linear_b_v(self.linear_a_v(x))
        return torch.cat([out[..., :d_in] + delta_q, out[..., d_in:-d_in], out[..., -d_in:] + delta_v], dim=-1)


def add_lora(module: nn.Module, config: LoraConfig) -> list[str]:
    """Wrap every linear of `module` matching `config.target_modules` in a LoRAQKV.

    Parameters
    ----------
    module : nn.Module
        E.g. a Hiera trunk (its ``blocks.i.attn.qkv`` linears are the targets).
    config : peft.LoraConfig
        Rank `r`, scaling `lora_alpha / r`; dropout must be 0 (the release has none).

    Returns
    -------
    The names (relative to `module`) of the wrapped linears.
    """
    if config.lora_dropout:
        raise ValueError("LoRAQKV has no dropout: use lora_dropout=0 (as the release).")
    names = [name for name, child in module.named_modules() if isinstance(child, nn.Linear) and check_target_module_exists(config, name)]
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name)
        setattr(parent, attr, LoRAQKV(getattr(parent, attr), config.r, config.lora_alpha / config.r))
    return names
