"""Convergence plots of training runs, drawn as the paper's figures are: test PSNR (dB) against
the number of backprops, with bicubic as a dashed line."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigError


def plot_runs(run_dirs: Sequence[str | os.PathLike[str]], title: str | None = None) -> bytes:
    """PNG bytes of the curves of one or more run folders (each with a ``metrics.csv``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .train import read_metrics

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    bicubic = None
    for d in run_dirs:
        rows = read_metrics(d)
        if not rows:
            raise ConfigError(f"{d}: metrics.csv has no rows yet")
        ax.plot([r["backprops"] for r in rows], [r["val_psnr"] for r in rows], marker=".",
                label=f"SRCNN ({Path(d).name})")
        bicubic = rows[-1]["val_bicubic"]
    if bicubic is not None:
        ax.axhline(bicubic, linestyle="--", color="gray", label=f"Bicubic ({bicubic:.2f} dB)")
    ax.set_xlabel("Number of backprops")
    ax.set_ylabel("Average test PSNR (dB)")
    ax.set_title(title or "Convergence")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
