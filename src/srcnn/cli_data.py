"""``srcnn data``: fetch, verify and list the standard data sets (see :mod:`srcnn.fetch`); show or clear
the training cache (``cache``).

Wiring in the main CLI::

    add_data_parser(subparsers)          # adds the `data` command
    ...
    if args.command == "data":
        return run_data(args)

Exit status: 0 when everything is in order, 1 when ``verify`` finds a problem or ``fetch`` fails,
2 for an unknown set name, 130 on Ctrl-C. Reports go to stdout; the progress bar and one-line
errors (``srcnn: error: ...``) go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import fetch as fetchmod
from .datasets import ENV_VAR, resolve_data_root
from .errors import DataError, SRCNNError

PROG = "srcnn"
MAX_LISTED = 10  # file names shown per kind of problem and set

_DATA_DESCRIPTION = """\
Fetch, verify and list the standard data sets: the training sets T91, BSDS200 and General100
and the test sets Set5, Set14 and BSD100. Each file is pinned by size and sha256 to a public git
repository at a fixed commit, and downloaded (no credentials needed) from
  https://raw.githubusercontent.com/{repo}/{commit}/{path}
A set NAME is stored as <data root>/NAME/; the data root is --root, else $SRCNN_DATA, else
DEFAULT_ROOT (the same root `evaluate` and `train` use with --data-root)."""

_DATA_EPILOG = """\
examples:
  srcnn data fetch all                  get every set (about 160 MB)
  srcnn data fetch Set5 Set14 --root ~/data
  srcnn data verify                     check what is there against the registry
  srcnn data list                       sets, sizes and what is present
  srcnn data cache [--clear]            what training has cached (pairs, teacher labels), or delete it"""


def _add_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", "--data-root", dest="root", metavar="DIR", default=None,
                   help=f"data root (default: ${ENV_VAR}, else the per-user default)")


def add_data_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``data`` command (``fetch``, ``verify``, ``list``, ``cache``) to the main CLI's subparsers."""
    from .datasets import default_data_root

    fmt = argparse.RawDescriptionHelpFormatter
    data = subparsers.add_parser(
        "data", help="fetch, verify and list the standard data sets",
        description=_DATA_DESCRIPTION.replace("DEFAULT_ROOT", str(default_data_root())),
        epilog=_DATA_EPILOG, formatter_class=fmt)
    dsub = data.add_subparsers(dest="data_command", metavar="{fetch,verify,list,cache}")
    dsub.required = True

    f = dsub.add_parser(
        "fetch", help="download sets into the data root (only what is missing or corrupt)",
        description="Download the named sets into <data root>/NAME/. Files already there with the "
                    "right sha256 are kept; others are downloaded to FILE.part, checked (size and "
                    "sha256) and renamed into place. An interrupted fetch resumes where it "
                    "stopped when run again; network errors are retried with back-off. A file "
                    "whose checksum does not match is deleted and reported (exit status 1).",
        epilog="The download URL template can be changed with --base-url or "
               f"${fetchmod.BASE_URL_ENV}, e.g. a mirror: "
               "https://mirror.example/{repo}/{commit}/{path}")
    f.add_argument("names", nargs="+", metavar="NAME",
                   help="set names (T91, BSDS200, General100, Set5, Set14, BSD100; "
                        "case-insensitive), or 'all'")
    _add_root(f)
    f.add_argument("--base-url", metavar="TEMPLATE", default=None,
                   help="download URL template with {repo}, {commit} and {path} (default: "
                        f"${fetchmod.BASE_URL_ENV}, else {fetchmod.DEFAULT_URL_TEMPLATE})")
    f.add_argument("--retries", type=_non_negative_int, default=3, metavar="N",
                   help="retries per file after a network error, with exponential back-off "
                        "(default: 3)")
    f.add_argument("--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
                   help="network time-out in seconds (default: 30)")
    f.add_argument("--no-progress", action="store_true", help="do not show a progress bar")

    v = dsub.add_parser(
        "verify", help="check sets in the data root: missing, corrupt and extra files",
        description="Check sets in the data root against the registry: every file present, with "
                    "the right size and sha256, and no extra files (hidden files are ignored). "
                    "Without NAME, checks every set whose folder exists, and fails when there is "
                    "none. Exit status 0 when all is well, 1 otherwise.")
    v.add_argument("names", nargs="*", metavar="NAME",
                   help="set names to check (default: every set present), or 'all' to require "
                        "every set")
    _add_root(v)

    ls = dsub.add_parser(
        "list", help="show the sets, their sizes and what is present in the data root",
        description="Show every registered set: number of files, total size, how many files are "
                    "present in the data root (by name and size; `verify` reads the checksums) "
                    "and the source repository.")
    _add_root(ls)

    c = dsub.add_parser(
        "cache", help="show what training has cached (pairs, teacher labels), or delete it",
        description="Show the files `srcnn train` keeps in the cache folder ($XDG_CACHE_HOME/srcnn, else "
                    "~/.cache/srcnn): the training pairs of each data configuration and the teacher labels "
                    "of each distillation run, with their sizes. They are rebuilt when needed, so --clear "
                    "only costs the next run some setup time. Nothing else in that folder is touched, and "
                    "the data root never holds a cache.")
    c.add_argument("--clear", action="store_true", help="delete those files")


def _non_negative_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return x


def human_bytes(n: float) -> str:
    """``1702706`` -> ``"1.7 MB"`` (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _error(message: str, err: TextIO) -> None:
    print(f"{PROG}: error: {' '.join(message.split())}", file=err)


def run_data(args: argparse.Namespace) -> int:
    """Run ``srcnn data ...`` from parsed arguments; returns the exit status."""
    out, err = sys.stdout, sys.stderr
    command = getattr(args, "data_command", None)
    root = getattr(args, "root", None) or getattr(args, "data_root", None)
    try:
        registry = fetchmod.default_registry()
        names: list[str] | None = getattr(args, "names", None) or None
        if names is not None:
            try:
                names = registry.resolve_names(names)
            except DataError as e:
                _error(str(e), err)
                return 2
        if command == "list":
            return _run_list(root, out)
        if command == "verify":
            return _run_verify(root, names, out, err)
        if command == "fetch":
            return _run_fetch(args, root, names or [], out, err)
        if command == "cache":
            return _run_cache(bool(args.clear), out)
        _error(f"unknown data command {command!r}; use fetch, verify, list or cache", err)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted" + ("; run the same command again to resume"
                                         if command == "fetch" else ""), file=err)
        return 130
    except SRCNNError as e:
        _error(str(e), err)
        return 1


def _table(rows: Sequence[Sequence[str]], right: set[int], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        print("  ".join(cells).rstrip(), file=out)


def _run_list(root: str | None, out: TextIO) -> int:
    data_root = resolve_data_root(root)
    rows = fetchmod.list_sets(data_root)
    print(f"data root: {data_root}", file=out)
    table = [["SET", "FILES", "SIZE", "PRESENT", "SOURCE"]]
    for r in rows:
        sources = ", ".join(f"{s.split('@')[0]}@{s.split('@')[1][:7]}" for s in r.sources)
        table.append([r.name, str(r.files), human_bytes(r.total_bytes),
                      f"{r.present}/{r.files}", sources])
    n_files = sum(r.files for r in rows)
    table.append(["total", str(n_files), human_bytes(sum(r.total_bytes for r in rows)),
                  f"{sum(r.present for r in rows)}/{n_files}", ""])
    _table(table, {1, 2, 3}, out)
    incomplete = [r.name for r in rows if not r.complete]
    if incomplete:
        which = "all" if len(incomplete) == len(rows) else " ".join(incomplete)
        print(f"\nget the missing files with: {PROG} data fetch {which}"
              f"{_root_arg(root)}", file=out)
    return 0


def _run_cache(clear: bool, out: TextIO) -> int:
    from .data import cache_dir, cache_files, clear_cache

    folder = cache_dir()
    if clear:
        try:
            n, size = clear_cache()
        except OSError as e:
            raise DataError(f"could not clear the cache in {folder}: {e.strerror or e}") from None
        print(f"removed {n} file{'s' * (n != 1)} ({human_bytes(size)}) from {folder}" if n
              else f"nothing to remove in {folder}", file=out)
        return 0
    files = cache_files()
    print(f"cache folder: {folder}", file=out)
    table = [["KIND", "FILES", "SIZE"]]
    def nbytes(f: Path) -> int:  # 0 for a file that a training run replaced or removed meanwhile
        try:
            return f.stat().st_size
        except FileNotFoundError:
            return 0

    sizes = {kind: sum(nbytes(f) for f in fs) for kind, fs in files.items()}
    for kind, fs in files.items():
        if fs or kind != "partial writes":
            table.append([kind, str(len(fs)), human_bytes(sizes[kind])])
    n = sum(len(fs) for fs in files.values())
    table.append(["total", str(n), human_bytes(sum(sizes.values()))])
    _table(table, {1, 2}, out)
    if n:
        print(f"\ndelete them with: {PROG} data cache --clear (rebuilt when needed)", file=out)
    return 0


def _root_arg(root: str | None) -> str:
    return f" --root {root}" if root else ""


def _listed(label: str, names: Sequence[str], out: TextIO) -> None:
    if not names:
        return
    shown = ", ".join(names[:MAX_LISTED])
    more = f", ... ({len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
    print(f"    {label} ({len(names)}): {shown}{more}", file=out)


def _run_verify(root: str | None, names: list[str] | None, out: TextIO, err: TextIO) -> int:
    data_root = resolve_data_root(root)
    with _ProgressBar("verifying", err, enabled=True) as progress:
        report = fetchmod.verify(data_root, names, progress=progress)
    sets = list(report.sets)
    absent: list[str] = []
    if names is None:  # no names: check the sets that are there
        absent = [s.name for s in sets if not s.folder_exists]
        sets = [s for s in sets if s.folder_exists]
        if not sets:
            _error(f"no data sets in {data_root}; get them with `{PROG} data fetch all"
                   f"{_root_arg(root)}`", err)
            return 1
    print(f"data root: {data_root}", file=out)
    width = max(len(s.name) for s in sets)
    for s in sets:
        if s.intact:
            status = "ok"
        elif not s.folder_exists:
            status = "ABSENT"
        else:
            status = "PROBLEMS"
        print(f"  {s.name.ljust(width)}  {status:<8}  {s.present}/{s.expected} files", file=out)
        if s.folder_exists:
            _listed("missing", s.missing, out)
            _listed("corrupt", s.corrupt, out)
            _listed("extra", s.extra, out)
            _listed("partial downloads", s.partial, out)
    if absent:
        print(f"  not fetched: {', '.join(absent)}", file=out)
    bad = [s for s in sets if not s.intact]
    if not bad:
        print(f"{len(sets)} set{'s' if len(sets) != 1 else ''} complete and intact", file=out)
        return 0
    fixable = [s.name for s in bad if s.missing or s.corrupt]
    hints = []
    if fixable:
        hints.append(f"`{PROG} data fetch {' '.join(fixable)}{_root_arg(root)}` replaces missing "
                     "and corrupt files")
    if any(s.extra for s in bad):
        hints.append("extra files must be removed by hand")
    print(f"{len(bad)} of {len(sets)} sets with problems" + (f"; {'; '.join(hints)}"
                                                            if hints else ""), file=out)
    return 1


class _ProgressBar:
    """A lazily created tqdm bar on ``stream``; yields a :data:`fetch.ProgressCallback`."""

    def __init__(self, desc: str, stream: TextIO, *, enabled: bool) -> None:
        self.desc = desc
        self.stream = stream
        self.enabled = enabled
        self.bar: Any = None
        self.current = ""

    def __enter__(self) -> Callable[[int, int, str], None] | None:
        return self._update if self.enabled else None

    def _update(self, done: int, total: int, current: str) -> None:
        if self.bar is None:
            from tqdm import tqdm

            # disable=None: no bar when the stream is not a terminal.
            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1000,
                            desc=self.desc, file=self.stream, disable=None, leave=False,
                            dynamic_ncols=True)
        if self.bar.total != total:
            self.bar.total = total
        if current != self.current:
            self.current = current
            self.bar.set_postfix_str(current, refresh=False)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_fetch(args: argparse.Namespace, root: str | None, names: list[str], out: TextIO,
               err: TextIO) -> int:
    data_root = resolve_data_root(root)
    try:
        with _ProgressBar("fetching", err, enabled=not args.no_progress) as progress:
            result = fetchmod.fetch(names, data_root, base_url=args.base_url,
                                    retries=args.retries, timeout=args.timeout,
                                    progress=progress)
    except fetchmod.FetchError as e:
        r = e.result
        if r.downloaded:
            print(f"downloaded {len(r.downloaded)} file{'s' if len(r.downloaded) != 1 else ''} "
                  f"({human_bytes(r.bytes_downloaded)}) into {data_root}", file=out)
        if len(r.failed) > 1:
            for key, reason in r.failed.items():
                print(f"  refused {key}: {reason}", file=out)
        _error(str(e), err)
        return 1
    sets = ", ".join(result.sets)
    if result.downloaded:
        n = len(result.downloaded)
        print(f"downloaded {n} file{'s' if n != 1 else ''} "
              f"({human_bytes(result.bytes_downloaded)}); {result.already_present} already "
              "present", file=out)
    print(f"{sets}: {result.files} files complete and verified in {data_root}", file=out)
    return 0
