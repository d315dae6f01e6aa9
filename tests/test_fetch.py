"""Data set registry, fetch, verify and list (srcnn.fetch, srcnn.cli_data).

Downloads are served by a local HTTP server on 127.0.0.1 from a fake set made here; nothing goes to
the internet. The last tests check the shipped registry and, when $SRCNN_DATA is set, the real data.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from srcnn import fetch as fetchmod
from srcnn.cli_data import add_data_parser, human_bytes, run_data
from srcnn.datasets import STANDARD_SETS
from srcnn.errors import DataError
from srcnn.fetch import (
    BASE_URL_ENV,
    DataFile,
    FetchError,
    Registry,
    fetch,
    file_url,
    list_sets,
    load_registry,
    parse_registry,
    verify,
)

REPO = "owner/fake-sr-data"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SET = "Fake"
# name -> (path in the fake repository, size); one path has a space and parentheses.
FILES = {
    "a.png": ("imgs/a.png", 200_000),
    "b.png": ("imgs/sub dir/b (copy).png", 150_001),
    "c.png": ("imgs/c.png", 70_000),
}


def _content(name: str, size: int) -> bytes:
    return random.Random(name).randbytes(size)


CONTENT = {name: _content(name, size) for name, (_, size) in FILES.items()}
TOTAL = sum(size for _, size in FILES.values())


def _url_path(name: str) -> str:
    return f"/{REPO}/{COMMIT}/{FILES[name][0]}"


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)


@pytest.fixture
def registry() -> Registry:
    rows: list[dict[str, str | int]] = [
        {"set": SET, "file": name, "size": size, "sha256": hashlib.sha256(CONTENT[name]).hexdigest(),
         "repo": REPO, "commit": COMMIT, "path": path}
        for name, (path, size) in FILES.items()]
    return Registry.from_rows(rows, origin="test registry")


class FakeRepoServer:
    """Serves the fake set at /{repo}/{commit}/{path}; records requests; can misbehave."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {_url_path(n): data for n, data in CONTENT.items()}
        self.override: dict[str, bytes] = {}  # url path -> bytes served instead
        self.cut_after: dict[str, int] = {}  # url path -> send only this many bytes, once
        self.support_range = True
        self.requests: list[tuple[str, str | None]] = []  # (unquoted path, Range header)
        self.raw_paths: list[str] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urllib.parse.unquote(self.path)
                rng = self.headers.get("Range")
                with fake.lock:
                    fake.requests.append((path, rng))
                    fake.raw_paths.append(self.path)
                    data = fake.override.get(path, fake.files.get(path))
                    cut = fake.cut_after.pop(path, None)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and fake.support_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                # An interrupted transfer: promise the whole body, send part of it, hang up.
                self.wfile.write(body if cut is None else body[:cut])

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.template = f"http://127.0.0.1:{self.port}/{{repo}}/{{commit}}/{{path}}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)

    def requests_for(self, name: str) -> list[str | None]:
        """The Range headers of the requests for file ``name``, in order."""
        return [rng for path, rng in self.requests if path == _url_path(name)]


@pytest.fixture
def server() -> Iterator[FakeRepoServer]:
    srv = FakeRepoServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


def _fetch(server: FakeRepoServer, registry: Registry, root: Path, *, retries: int = 0,
           progress: fetchmod.ProgressCallback | None = None) -> fetchmod.FetchResult:
    return fetch([SET], root, base_url=server.template, registry=registry, retries=retries,
                 backoff=0.0, timeout=5.0, progress=progress)


def _assert_complete(root: Path, registry: Registry) -> None:
    for name, data in CONTENT.items():
        assert (root / SET / name).read_bytes() == data
    assert sorted(p.name for p in (root / SET).iterdir()) == sorted(FILES)  # no .part left
    report = verify(root, [SET], registry=registry)
    assert report.ok


# ------------------------------------------------------------------------------------------
# fetch
# ------------------------------------------------------------------------------------------

def test_full_fetch(server: FakeRepoServer, registry: Registry, tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    result = _fetch(server, registry, tmp_path, progress=lambda d, t, c: calls.append((d, t, c)))
    assert result.ok
    assert result.files == 3 and result.already_present == 0
    assert result.downloaded == [f"{SET}/{n}" for n in FILES]
    assert result.bytes_downloaded == TOTAL
    _assert_complete(tmp_path, registry)
    # One plain request per file; the path with a space and parentheses was URL-quoted.
    assert [server.requests_for(n) for n in FILES] == [[None], [None], [None]]
    assert f"/{REPO}/{COMMIT}/imgs/sub%20dir/b%20%28copy%29.png" in server.raw_paths
    # Progress: totals constant, bytes never beyond the total, ends at the total.
    assert {t for _, t, _ in calls} == {TOTAL}
    assert all(0 <= d <= TOTAL for d, _, _ in calls)
    assert calls[-1] == (TOTAL, TOTAL, f"{SET}/c.png")
    assert {c for _, _, c in calls} == {f"{SET}/{n}" for n in FILES}

    # A second fetch finds everything in place and makes no request.
    n_requests = len(server.requests)
    again = _fetch(server, registry, tmp_path)
    assert again.ok and again.already_present == 3 and again.downloaded == []
    assert len(server.requests) == n_requests


def test_fetch_resumes_a_partial_download_with_range(server: FakeRepoServer, registry: Registry,
                                                     tmp_path: Path) -> None:
    (tmp_path / SET).mkdir()
    (tmp_path / SET / "a.png.part").write_bytes(CONTENT["a.png"][:123_456])
    result = _fetch(server, registry, tmp_path)
    assert server.requests_for("a.png") == ["bytes=123456-"]
    assert result.bytes_downloaded == TOTAL - 123_456
    _assert_complete(tmp_path, registry)


def test_fetch_resumes_after_an_interrupted_fetch(server: FakeRepoServer, registry: Registry,
                                                  tmp_path: Path) -> None:
    server.cut_after[_url_path("b.png")] = 70_000
    with pytest.raises(FetchError) as exc:
        _fetch(server, registry, tmp_path)  # retries=0: the cut connection ends this fetch
    msg = str(exc.value)
    assert f"{SET}/b.png" in msg and "70000 of 150001 bytes" in msg
    assert "run the same command again to resume" in msg
    assert exc.value.result.downloaded == [f"{SET}/a.png"]
    part = tmp_path / SET / "b.png.part"
    assert part.read_bytes() == CONTENT["b.png"][:70_000]
    assert not (tmp_path / SET / "b.png").exists()

    result = _fetch(server, registry, tmp_path)
    assert server.requests_for("b.png") == [None, "bytes=70000-"]
    assert result.already_present == 1
    assert result.bytes_downloaded == (150_001 - 70_000) + 70_000  # rest of b, all of c
    _assert_complete(tmp_path, registry)


def test_fetch_retries_and_resumes_within_one_call(server: FakeRepoServer, registry: Registry,
                                                   tmp_path: Path) -> None:
    server.cut_after[_url_path("a.png")] = 65_536
    result = _fetch(server, registry, tmp_path, retries=2)
    assert server.requests_for("a.png") == [None, "bytes=65536-"]
    assert result.ok and result.bytes_downloaded == TOTAL
    _assert_complete(tmp_path, registry)


def test_fetch_restarts_when_the_server_ignores_range(server: FakeRepoServer,
                                                      registry: Registry, tmp_path: Path) -> None:
    server.support_range = False
    (tmp_path / SET).mkdir()
    (tmp_path / SET / "a.png.part").write_bytes(CONTENT["a.png"][:50_000])
    result = _fetch(server, registry, tmp_path)
    assert server.requests_for("a.png") == ["bytes=50000-"]  # asked, got a 200: started over
    assert result.bytes_downloaded == TOTAL
    _assert_complete(tmp_path, registry)


def test_fetch_discards_a_stale_part_and_starts_again(server: FakeRepoServer,
                                                      registry: Registry, tmp_path: Path) -> None:
    (tmp_path / SET).mkdir()
    (tmp_path / SET / "c.png.part").write_bytes(b"\0" * 30_000)  # not the start of c.png
    result = _fetch(server, registry, tmp_path)
    assert server.requests_for("c.png") == ["bytes=30000-", None]
    assert result.ok
    _assert_complete(tmp_path, registry)


def test_corrupted_download_is_refused_and_not_left(server: FakeRepoServer, registry: Registry,
                                                    tmp_path: Path) -> None:
    bad = bytearray(CONTENT["b.png"])
    bad[1000] ^= 0xFF  # same size, one byte different
    server.override[_url_path("b.png")] = bytes(bad)
    with pytest.raises(FetchError) as exc:
        _fetch(server, registry, tmp_path)
    msg = str(exc.value)
    assert msg.startswith(f"refused 1 file: {SET}/b.png: checksum mismatch")
    assert hashlib.sha256(bad).hexdigest() in msg
    assert "the download was deleted" in msg
    assert isinstance(exc.value, DataError)
    # Neither the file nor its .part is left; the other files were fetched.
    assert not (tmp_path / SET / "b.png").exists()
    assert not (tmp_path / SET / "b.png.part").exists()
    result = exc.value.result
    assert result.downloaded == [f"{SET}/a.png", f"{SET}/c.png"]
    assert list(result.failed) == [f"{SET}/b.png"]
    assert sorted(p.name for p in (tmp_path / SET).iterdir()) == ["a.png", "c.png"]
    report = verify(tmp_path, [SET], registry=registry)
    assert report.sets[0].missing == ("b.png",) and not report.sets[0].corrupt


def test_oversized_download_is_refused(server: FakeRepoServer, registry: Registry,
                                       tmp_path: Path) -> None:
    server.override[_url_path("c.png")] = CONTENT["c.png"] + b"x" * 200_000
    with pytest.raises(FetchError, match=r"Fake/c\.png: size mismatch"):
        _fetch(server, registry, tmp_path)
    assert not (tmp_path / SET / "c.png").exists()
    assert not (tmp_path / SET / "c.png.part").exists()


def test_a_corrupt_file_in_place_is_replaced(server: FakeRepoServer, registry: Registry,
                                             tmp_path: Path) -> None:
    (tmp_path / SET).mkdir()
    (tmp_path / SET / "a.png").write_bytes(b"junk")
    (tmp_path / SET / "c.png").write_bytes(CONTENT["c.png"])
    result = _fetch(server, registry, tmp_path)
    assert result.already_present == 1
    assert result.downloaded == [f"{SET}/a.png", f"{SET}/b.png"]
    assert server.requests_for("c.png") == []
    _assert_complete(tmp_path, registry)


def test_http_404_is_reported(server: FakeRepoServer, registry: Registry, tmp_path: Path) -> None:
    del server.files[_url_path("a.png")]
    with pytest.raises(FetchError, match=r"Fake/a\.png: HTTP 404"):
        _fetch(server, registry, tmp_path, retries=3)
    assert server.requests_for("a.png") == [None]  # a 404 is not retried
    assert not (tmp_path / SET / "a.png.part").exists()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_server_fails_quickly_and_clearly(registry: Registry, tmp_path: Path) -> None:
    port = _closed_port()
    t0 = time.monotonic()
    with pytest.raises(FetchError) as exc:
        fetch([SET], tmp_path, base_url=f"http://127.0.0.1:{port}/{{repo}}/{{commit}}/{{path}}",
              registry=registry, retries=2, backoff=0.01, timeout=2.0)
    assert time.monotonic() - t0 < 5
    msg = str(exc.value)
    assert msg.startswith(f"cannot reach 127.0.0.1:{port}: Connection refused (3 attempts, "
                          f"downloading {SET}/a.png)")
    assert BASE_URL_ENV in msg
    assert exc.value.result.downloaded == []
    assert not (tmp_path / SET).exists()  # the set folder it made stayed empty, so it is gone again
    assert tmp_path.is_dir()  # a data root that was there is kept


# ------------------------------------------------------------------------------------------
# verify and list
# ------------------------------------------------------------------------------------------

def test_verify_reports_missing_extra_and_corrupt(registry: Registry, tmp_path: Path) -> None:
    folder = tmp_path / SET
    folder.mkdir()
    (folder / "a.png").write_bytes(CONTENT["a.png"])
    bad = bytearray(CONTENT["b.png"])
    bad[-1] ^= 1
    (folder / "b.png").write_bytes(bytes(bad))  # right size, wrong sha256
    (folder / "c.png.part").write_bytes(CONTENT["c.png"][:10])
    (folder / "notes.txt").write_text("x")
    (folder / "more").mkdir()
    (folder / ".DS_Store").write_bytes(b"")  # hidden: ignored
    calls: list[tuple[int, int, str]] = []
    report = verify(tmp_path, ["fake"], registry=registry,
                    progress=lambda d, t, c: calls.append((d, t, c)))
    assert not report.ok and report.root == tmp_path
    (s,) = report.sets
    assert (s.name, s.folder, s.expected, s.present, s.folder_exists) == (SET, folder, 3, 2, True)
    assert s.missing == ("c.png",)
    assert s.corrupt == ("b.png",)
    assert s.extra == ("more/", "notes.txt")
    assert s.partial == ("c.png.part",)
    assert report.problems == (s,)
    assert calls[-1] == (TOTAL, TOTAL, f"{SET}/c.png")

    (folder / "b.png").write_bytes(CONTENT["b.png"][:-1])  # wrong size
    assert verify(tmp_path, [SET], registry=registry).sets[0].corrupt == ("b.png",)


def test_verify_absent_set_and_intact_set(registry: Registry, tmp_path: Path) -> None:
    (s,) = verify(tmp_path / "nowhere", None, registry=registry).sets
    assert not s.folder_exists and s.missing == tuple(FILES) and not s.intact
    (tmp_path / SET).mkdir()
    for name, data in CONTENT.items():
        (tmp_path / SET / name).write_bytes(data)
    report = verify(tmp_path, None, registry=registry)
    assert report.ok and report.sets[0].intact and report.sets[0].present == 3


def test_list_sets_counts_present_files(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / SET).mkdir()
    (tmp_path / SET / "a.png").write_bytes(CONTENT["a.png"])
    (tmp_path / SET / "b.png").write_bytes(b"short")  # wrong size: not counted
    (row,) = list_sets(tmp_path, registry=registry)
    assert (row.name, row.files, row.total_bytes, row.present, row.present_bytes) == \
        (SET, 3, TOTAL, 1, 200_000)
    assert row.sources == (f"{REPO}@{COMMIT}",) and not row.complete


def test_unknown_set_name(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown data set 'Set6'; known sets: Fake \(or 'all'\)"):
        verify(tmp_path, ["Set6"], registry=registry)
    assert registry.resolve_names(["ALL", "fake"]) == [SET]


# ------------------------------------------------------------------------------------------
# registry and URLs
# ------------------------------------------------------------------------------------------

def test_registry_file_round_trip_and_validation(registry: Registry, tmp_path: Path) -> None:
    lines = ["# comment", "\t".join(fetchmod.REGISTRY_COLUMNS)]
    lines += ["\t".join([f.set_name, f.file, str(f.size), f.sha256, f.repo, f.commit, f.path])
              for f in registry.files]
    p = tmp_path / "reg.tsv"
    p.write_text("\n".join(lines) + "\n")
    assert load_registry(p).files == registry.files
    good = lines[2].split("\t")
    for i, value, err in [(1, "../evil.png", "bad file name"), (3, "abc", "bad sha256"),
                          (5, "main", "bad commit"), (2, "-1", "bad size"),
                          (6, "../x.png", "bad source path")]:
        row = list(good)
        row[i] = value
        with pytest.raises(DataError, match=f"reg.tsv:2: {err}"):
            parse_registry("\n".join([lines[1], "\t".join(row)]), origin="reg.tsv")
    with pytest.raises(DataError, match="listed twice"):
        parse_registry("\n".join([lines[1], lines[2], lines[2]]))
    with pytest.raises(DataError, match="expected the header"):
        parse_registry("set\tfile\n")


def test_file_url_quoting_and_overrides(registry: Registry,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    b = registry.files_of(SET)[1]
    assert file_url(b) == (f"https://raw.githubusercontent.com/{REPO}/{COMMIT}/"
                           "imgs/sub%20dir/b%20%28copy%29.png")
    monkeypatch.setenv(BASE_URL_ENV, "http://mirror.test/srcnn/")
    assert file_url(b) == f"http://mirror.test/srcnn/{REPO}/{COMMIT}/imgs/sub%20dir/b%20%28copy%29.png"
    assert file_url(b, "http://x.test/{set}/{file}") == "http://x.test/Fake/b.png"
    with pytest.raises(DataError, match="bad download URL template"):
        file_url(b, "http://x.test/{nope}")
    # a mirror given as a plain path, or a broken host: one clear error before any download (was a traceback)
    with pytest.raises(DataError, match="needs http://, https:// or file://"):
        file_url(b, "/srv/mirror/{path}")
    with pytest.raises(DataError, match=r"bad download URL .*IPv6"):
        file_url(b, "http://[::1/{path}")
    assert file_url(b, "file:///srv/mirror/{set}/{file}") == "file:///srv/mirror/Fake/b.png"


def test_shipped_registry_lists_the_standard_sets() -> None:
    reg = load_registry()
    assert reg.set_names == STANDARD_SETS
    counts = {name: len(reg.files_of(name)) for name in reg.set_names}
    assert counts == {"T91": 91, "BSDS200": 200, "General100": 100, "Set5": 5, "Set14": 14,
                      "BSD100": 100}
    assert sum(f.size for f in reg.files) == 160_435_167
    set5 = reg.files_of("Set5")
    assert [f.file for f in set5] == ["baby_GT.bmp", "bird_GT.bmp", "butterfly_GT.bmp",
                                      "head_GT.bmp", "woman_GT.bmp"]
    assert all(f.source == "Piyush3dB/SR-convnet@a95ab414a5b42c4483e034d8b133e893a73b53fb"
               for f in set5)


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------

def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="srcnn")
    sub = parser.add_subparsers(dest="command", required=True)
    add_data_parser(sub)
    return run_data(parser.parse_args(list(argv)))


def test_cli_fetch_verify_list(server: FakeRepoServer, registry: Registry, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fetchmod, "default_registry", lambda: registry)
    monkeypatch.setenv(BASE_URL_ENV, server.template)
    root = str(tmp_path)

    assert _cli("data", "verify", "--root", root) == 1
    assert capsys.readouterr().err == (f"srcnn: error: no data sets in {root}; get them with "
                                       f"`srcnn data fetch all --root {root}`\n")

    assert _cli("data", "fetch", "fake", "--root", root, "--no-progress") == 0
    out = capsys.readouterr().out
    assert f"downloaded 3 files ({human_bytes(TOTAL)}); 0 already present" in out
    assert f"Fake: 3 files complete and verified in {root}" in out

    assert _cli("data", "verify", "--data-root", root) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"data root: {root}", "  Fake  ok        3/3 files", "1 set complete and intact"]

    (tmp_path / SET / "a.png").write_bytes(b"x")
    (tmp_path / SET / "c.png").unlink()
    assert _cli("data", "verify", "Fake", "--root", root) == 1
    out = capsys.readouterr().out
    assert "  Fake  PROBLEMS  2/3 files" in out
    assert "    missing (1): c.png" in out and "    corrupt (1): a.png" in out
    assert f"`srcnn data fetch Fake --root {root}` replaces missing and corrupt files" in out

    assert _cli("data", "list", "--root", root) == 0
    out = capsys.readouterr().out
    assert re.search(r"^Fake\s+3\s+420\.0 kB\s+1/3\s+owner/fake-sr-data@0123456$", out, re.M)

    assert _cli("data", "fetch", "Set6", "--root", root) == 2
    assert capsys.readouterr().err.startswith("srcnn: error: unknown data set 'Set6'")


def test_cli_unreachable_server_is_one_line(registry: Registry, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(fetchmod, "default_registry", lambda: registry)
    port = _closed_port()
    rc = _cli("data", "fetch", SET, "--root", str(tmp_path), "--retries", "0", "--timeout", "2",
              "--base-url", f"http://127.0.0.1:{port}/{{repo}}/{{commit}}/{{path}}")
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith(f"srcnn: error: cannot reach 127.0.0.1:{port}: Connection refused")
    assert err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------------------
# The real data
# ------------------------------------------------------------------------------------------

def test_real_data_root_is_complete_and_intact(data_root: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # ``data_root`` (tests/conftest.py) is $SRCNN_DATA; the test is skipped, with the reason
    # shown by ``pytest -ra``, when it is not set.
    report = verify(data_root)
    assert [s.name for s in report.sets] == list(STANDARD_SETS)
    for s in report.sets:
        assert (s.missing, s.corrupt, s.extra, s.partial) == ((), (), (), ()), s.name
        assert s.present == s.expected
    assert [s.expected for s in report.sets] == [91, 200, 100, 5, 14, 100]
    assert report.ok

    # The shipped registry says what the manifest says (when the root has one).
    manifest = data_root / "MANIFEST.tsv"
    if manifest.is_file():
        with manifest.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        expected = {(r["set"], r["file"], r["sha256"], r["source_repo"], r["source_path"])
                    for r in rows}
        got = {(e.set_name, e.file, e.sha256, e.source, e.path) for e in load_registry().files}
        assert got == expected

    assert _cli("data", "verify") == 0  # the root from $SRCNN_DATA
    assert capsys.readouterr().out.rstrip().endswith("6 sets complete and intact")


def test_datafile_key() -> None:
    f = DataFile("Set5", "baby_GT.bmp", 1, "0" * 64, "a/b", "0" * 40, "x/baby_GT.bmp")
    assert f.key == "Set5/baby_GT.bmp" and f.source == f"a/b@{'0' * 40}"
