"""Safe file writes: write to a temporary file in the target folder, then rename into place.

A crash, a full disk or Ctrl-C leaves either the old file or the new one, never half a file, and
never a stray temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .errors import ImageWriteError


def check_output_path(path: str | os.PathLike[str], *, overwrite: bool = False,
                      inputs: tuple[Path, ...] = ()) -> Path:
    """Validate an output path before any work is done; returns it as a ``Path``.

    Refuses an existing file unless ``overwrite``, an output equal to one of ``inputs``, and a
    folder that does not exist or is not writable.
    """
    p = Path(path).expanduser()
    for i in inputs:
        with contextlib.suppress(OSError):
            if p.resolve() == Path(i).expanduser().resolve():
                raise ImageWriteError(f"refusing to write {p}: it is also an input")
    if p.is_dir():
        raise ImageWriteError(f"output {p} is a folder; give a file name (or use --out-dir)")
    if p.exists() and not overwrite:
        raise ImageWriteError(f"{p} exists; pass --overwrite to replace it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ImageWriteError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ImageWriteError(f"output folder {parent} is not writable")
    return p


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path`` for binary writing; rename it to ``path`` on success.

    On any exception the temporary file is removed and the target is left untouched.
    """
    p = Path(path).expanduser()
    if p.exists() and not overwrite:
        raise ImageWriteError(f"{p} exists; pass --overwrite to replace it")
    parent = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise ImageWriteError(f"cannot write in {parent}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ImageWriteError(f"cannot write {p}: {e.strerror or e}") from None
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, overwrite=overwrite) as f:
        f.write(data)


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], None], *,
                      overwrite: bool = False) -> None:
    """Call ``writer(fileobj)`` on a temporary file and rename it to ``path`` on success."""
    with atomic_open(path, overwrite=overwrite) as f:
        writer(f)
