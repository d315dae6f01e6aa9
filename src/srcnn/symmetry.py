"""The 8 symmetries of a square (the dihedral group D4) acting on image tensors ``(..., H, W)``.

Training augments crops with them; the self-ensemble (``srcnn upscale --self-ensemble``) averages
the model's outputs over all eight: ``mean_k dihedral_inverse(model(dihedral(x, k)), k)``.
"""

from __future__ import annotations

import torch

#: The group's size: 4 rotations, each with or without a mirror flip.
DIHEDRAL_ORDER = 8


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips/rotations of ``(..., H, W)`` (k in 0..7): mirror left-right when
    ``k >= 4``, then rotate by ``k % 4`` quarter turns. Odd ``k`` swaps height and width."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`dihedral`: ``dihedral_inverse(dihedral(x, k), k)`` equals ``x``."""
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x
