"""Where data sets live: the data root and the standard sets by name.

The data root is, in order: an explicit ``--data-root``, the ``SRCNN_DATA`` environment variable,
or a per-user default (``$XDG_DATA_HOME/srcnn/data``, i.e. ``~/.local/share/srcnn/data``).
A set is named (``Set5``, ``T91``, ...; resolved as a folder of the data root) or given as a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataError

ENV_VAR = "SRCNN_DATA"
STANDARD_SETS: tuple[str, ...] = ("T91", "BSDS200", "General100", "Set5", "Set14", "BSD100")
TEST_SETS: tuple[str, ...] = ("Set5", "Set14", "BSD100")
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"}
)


def xdg_dir(variable: str, *default: str) -> Path:
    """``$variable`` (``XDG_DATA_HOME``, ``XDG_CACHE_HOME``) when it holds an absolute path, else ``~/<default>``:
    the XDG spec says a relative value is invalid and is to be ignored (it would move with the working folder)."""
    value = os.environ.get(variable, "")
    return Path(value) if value and os.path.isabs(value) else Path.home().joinpath(*default)


def default_data_root() -> Path:
    """The per-user default data root (no environment variable, no option)."""
    return xdg_dir("XDG_DATA_HOME", ".local", "share") / "srcnn" / "data"


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """``data_root`` if given, else ``$SRCNN_DATA``, else :func:`default_data_root`. A data root that
    is a file raises :class:`DataError`."""
    if data_root is not None and str(data_root) != "":
        root = Path(data_root).expanduser()
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
    else:
        return default_data_root()
    if root.exists() and not root.is_dir():
        raise DataError(f"data root {root} (from {_root_source(data_root)}) is a file, not a folder")
    return root


def resolve_set(name_or_path: str, data_root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of a set: a path if it is an existing folder, else ``<data root>/<name>``.

    Raises :class:`DataError` naming the folder it looked in and how to get the set.
    """
    p = Path(name_or_path).expanduser()
    if p.is_dir() and (os.sep in name_or_path or name_or_path.startswith(".") or p.is_absolute()
                       or name_or_path not in STANDARD_SETS):
        return p
    root = resolve_data_root(data_root)
    folder = root / name_or_path
    if folder.is_dir():
        return folder
    if p.is_file():  # a path to a file, not a set name
        raise DataError(f"{name_or_path} is a file: a data set is a folder of images (or a set name such as Set5)")
    hint = (f"; get it with `srcnn data fetch {name_or_path} --root {root}`"
            if name_or_path in STANDARD_SETS else "")
    raise DataError(f"data set {name_or_path!r} not found: looked for folder {folder} "
                    f"(data root from {_root_source(data_root)}){hint}")


def _root_source(data_root: str | os.PathLike[str] | None) -> str:
    if data_root is not None and str(data_root) != "":
        return "--data-root"
    if os.environ.get(ENV_VAR):
        return f"${ENV_VAR}"
    return "the per-user default; set --data-root or $SRCNN_DATA"


def list_images(folder: str | os.PathLike[str], *, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by suffix), sorted by name."""
    f = Path(folder)
    it = f.rglob("*") if recursive else f.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))
