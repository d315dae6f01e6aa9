"""Safe file writes: write to a temporary file in the target folder, then rename into place.

A crash, a full disk or Ctrl-C leaves either the old file or the new one, never half a file, and
never a stray temporary file. Without ``overwrite`` the rename is a hard link, which fails if the
target appeared meanwhile, so an existing file is never replaced by accident.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from .errors import ImageWriteError

_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})


class DiskFullError(ImageWriteError):
    """A write failed because the disk (or the quota) is full; later writes would fail too."""


def describe_os_error(e: OSError) -> str:
    """A short, lower-case reason for an ``OSError``, clearer than ``strerror`` for the usual ones."""
    if e.errno == errno.ENOSPC:
        return "no space left on the device (the disk is full)"
    if e.errno == getattr(errno, "EDQUOT", None):
        return "disk quota exceeded (no space left for this user)"
    if e.errno == errno.EFBIG:
        return "file too large for this file system"
    if e.errno == errno.EROFS:
        return "read-only file system"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (e.strerror or str(e)).lower()


def write_error(what: str, e: OSError) -> ImageWriteError:
    """An :class:`ImageWriteError` (a :class:`DiskFullError` for a full disk) saying ``what: why``."""
    cls = DiskFullError if e.errno in _FULL_ERRNOS else ImageWriteError
    return cls(f"{what}: {describe_os_error(e)}")


class PathSet:
    """A set of files compared by resolved path and, for files that exist, by device and inode
    (so a symbolic or hard link to a member is a member). Membership costs O(1)."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]] = ()) -> None:
        self._paths: set[Path] = set()
        self._ids: set[tuple[int, int]] = set()
        for p in paths:
            self.add(p)

    def add(self, path: str | os.PathLike[str]) -> None:
        q = Path(path).expanduser()
        with contextlib.suppress(OSError, RuntimeError):
            self._paths.add(q.resolve())
        with contextlib.suppress(OSError):
            st = q.stat()
            self._ids.add((st.st_dev, st.st_ino))

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str | os.PathLike):
            return False
        q = Path(path).expanduser()
        with contextlib.suppress(OSError, RuntimeError):
            if q.resolve() in self._paths:
                return True
        try:
            st = q.stat()
        except OSError:
            return False
        return (st.st_dev, st.st_ino) in self._ids


def check_output_folder(folder: str | os.PathLike[str], *, create: bool = False) -> Path:
    """Check that files can be written in ``folder``; returns it as a ``Path``.

    With ``create``, a folder that does not exist yet is fine when it can be made (its nearest
    existing ancestor is a writable folder); nothing is created here.
    """
    f = Path(folder).expanduser() if str(folder) else Path(".")
    if f.is_dir():
        _probe_folder(f)  # also what os.access would say, and true for root too
        return f
    anc = f
    while not os.path.lexists(anc) and anc.parent != anc:
        anc = anc.parent
    if anc == f:
        raise ImageWriteError(f"output folder {f} is a file, not a folder" if create
                              else f"output folder {f} does not exist (it is a file)")
    if not anc.is_dir():
        where = f"{anc} is a file, not a folder"
        raise ImageWriteError(f"cannot create output folder {f}: {where}" if create
                              else f"output folder {f} does not exist ({where})")
    if not create:
        raise ImageWriteError(f"output folder {f} does not exist; create it first (mkdir -p {shlex.quote(str(f))})")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ImageWriteError(f"cannot create output folder {f}: {anc} is not writable")
    # os.access says yes to root where nothing can be made (/sys, /proc)
    _probe_folder(anc, f"cannot create output folder {f}: no file can be made in {anc}")
    return f


def _probe_folder(f: Path, why: str = "") -> None:
    """Create and remove a file in ``f``, the way an output is written: ``os.access`` says yes to root for
    folders where no file can be made (``/proc``, ``/sys``), and a refusal should come before the work.
    ``why``: the error's message (default: no file can be created in output folder ``f``)."""
    try:
        fd, name = tempfile.mkstemp(dir=f, prefix=".srcnn-probe-")
    except OSError as e:
        raise write_error(why or f"no file can be created in output folder {f}", e) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def make_folder(folder: str | os.PathLike[str]) -> Path:
    """``mkdir -p folder``, with a one-line :class:`ImageWriteError` on failure."""
    f = Path(folder).expanduser()
    try:
        f.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ImageWriteError(f"cannot create folder {f}: a file of that name is in the way") from None
    except OSError as e:
        raise write_error(f"cannot create folder {f}", e) from None
    return f


def check_output_path(path: str | os.PathLike[str], *, overwrite: bool = False,
                      inputs: Iterable[str | os.PathLike[str]] | PathSet = ()) -> Path:
    """Validate an output path before any work is done; returns it as a ``Path``.

    Refuses an output equal to one of ``inputs`` (also through a link), a folder, an existing file
    unless ``overwrite``, and a parent folder that does not exist or is not writable.
    """
    p = Path(path).expanduser()
    ins = inputs if isinstance(inputs, PathSet) else PathSet(inputs)
    if p in ins:
        raise ImageWriteError(f"refusing to write {p}: it is also an input")
    if p.is_dir():
        raise ImageWriteError(f"output {p} is a folder; give a file name (srcnn upscale writes into a folder with "
                              "--out-dir)")
    if os.path.lexists(p) and not overwrite:
        raise ImageWriteError(f"{p} exists; pass --overwrite to replace it")
    check_output_folder(p.parent if str(p.parent) else Path("."))
    return p


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (best effort: not every system can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _place(tmp: str, p: Path, overwrite: bool) -> None:
    """Rename ``tmp`` to ``p``; without ``overwrite`` never replace an existing ``p``."""
    if overwrite:
        os.replace(tmp, p)
        return
    try:
        os.link(tmp, p)  # atomic and fails with EEXIST when p exists
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(p):
            raise FileExistsError(errno.EEXIST, "File exists", str(p)) from None
        os.replace(tmp, p)
        return
    with contextlib.suppress(OSError):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[IO[bytes]]:
    """Open a temporary file next to ``path`` for binary writing; rename it to ``path`` on success.

    On any exception (a full disk included: :class:`DiskFullError`) the temporary file is removed
    and the target is left untouched. OS errors become :class:`ImageWriteError`.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise ImageWriteError(f"cannot write {p}: it is a folder")
    if os.path.lexists(p) and not overwrite:
        raise ImageWriteError(f"{p} exists; pass --overwrite to replace it")
    parent = p.parent if str(p.parent) else Path(".")
    try:
        mode = stat.S_IMODE(p.stat().st_mode) if overwrite and p.is_file() else 0o666 & ~_UMASK
    except OSError:
        mode = 0o666 & ~_UMASK
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        if isinstance(e, FileNotFoundError) and not parent.is_dir():
            raise ImageWriteError(f"cannot write {p}: output folder {parent} does not exist; create it first") from None
        raise write_error(f"cannot write in {parent}", e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        _place(tmp, p, overwrite)
        _fsync_folder(parent)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, FileExistsError):
            raise ImageWriteError(f"{p} exists; pass --overwrite to replace it") from None
        if isinstance(e, OSError):
            raise write_error(f"cannot write {p}", e) from None
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
