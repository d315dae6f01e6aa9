"""The local web app (srcnn.serve): the HTTP API through FastAPI's TestClient, the `srcnn serve`
command's checks, and a real browser (headless Chromium driven by Playwright) using the page."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from srcnn.cli import main
from srcnn.errors import ConfigError, WeightsError
from srcnn.pretrained import REGISTRY
from srcnn.serve import PAGE, bind_socket, create_app
from srcnn.weights import save_weights

from .conftest import identity_weights

with warnings.catch_warnings():  # newer Starlette prefers the httpx2 package; httpx works the same
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def photo_png(photo: np.ndarray) -> bytes:
    return _png(photo)  # 112 x 96


@pytest.fixture()
def identity_file(tmp_path: Path) -> Path:
    p = tmp_path / "identity.safetensors"
    save_weights(identity_weights(), p)  # trained "for" x2, x2.5, x3
    return p


@pytest.fixture()
def client(weights_file: Path, identity_file: Path) -> Iterator[TestClient]:
    app = create_app([str(weights_file), str(identity_file)], max_upload_mb=0.1, max_pixels=200_000)
    with TestClient(app) as c:
        yield c


def _post(client: TestClient, data: bytes, scale: str = "3", model: str = "w.safetensors",
          query: str = "") -> Any:
    return client.post(f"/api/upscale{query}", files={"file": ("photo.png", data, "image/png")},
                       data={"scale": scale, "model": model})


def test_page_is_self_contained(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html == PAGE
    for needle in ('id="file"', 'type="file"', 'id="scale"', 'id="model"', 'id="split"',
                   'id="zoom"', 'id="download"', 'id="result"', 'id="bicubic"'):
        assert needle in html
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    assert "<link" not in html


def test_models_list(client: TestClient) -> None:
    j = client.get("/api/models").json()
    ids = [m["id"] for m in j["models"]]
    assert ids[-2:] == ["w.safetensors", "identity.safetensors"]
    assert j["models"][-1]["scales"] == [2.0, 2.5, 3.0] and j["models"][-1]["arch"] == "9-1-5"
    assert len(ids) == len(REGISTRY) + 2
    assert j["default"] == "w.safetensors"  # the page starts on the first model given, not a shipped one
    with TestClient(create_app()) as plain:  # none given: the first shipped model
        assert plain.get("/api/models").json()["default"] == REGISTRY[0].name
    assert j["max_upload_bytes"] == 100_000 and j["max_pixels"] == 200_000


def test_upscale_returns_png_of_the_expected_size(client: TestClient, photo_png: bytes) -> None:
    r = _post(client, photo_png)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (336, 288) and img.mode == "RGB"
    assert r.headers["x-input-size"] == "112x96" and r.headers["x-output-size"] == "336x288"
    assert r.headers["x-model"] == "w.safetensors" and r.headers["x-scale"] == "3"
    assert 'filename="photo_srcnn_x3.png"' in r.headers["content-disposition"]


def test_json_variant_with_bicubic(client: TestClient, photo_png: bytes) -> None:
    r = _post(client, photo_png, scale="2.5", model="identity.safetensors", query="?format=json")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["input"] == {"width": 112, "height": 96}
    assert j["output"] == {"width": 280, "height": 240}  # round(2.5 * size)
    sr = np.asarray(Image.open(io.BytesIO(base64.b64decode(j["png"]))))
    bic = np.asarray(Image.open(io.BytesIO(base64.b64decode(j["bicubic_png"]))))
    assert sr.shape == bic.shape == (240, 280, 3)
    # An identity network returns bicubic, up to rounding.
    assert np.abs(sr.astype(int) - bic.astype(int)).max() <= 2
    assert j["model"] == "identity.safetensors" and j["scale"] == 2.5 and j["seconds"] >= 0


def test_self_ensemble_field(client: TestClient, photo_png: bytes) -> None:
    def post(flag: str | None) -> Any:
        data = {"scale": "3", "model": "w.safetensors"} | ({} if flag is None else {"self_ensemble": flag})
        return client.post("/api/upscale", files={"file": ("photo.png", photo_png, "image/png")}, data=data)

    plain, off, on = post(None), post("0"), post("1")
    assert plain.status_code == off.status_code == on.status_code == 200
    assert (plain.headers["x-self-ensemble"], on.headers["x-self-ensemble"]) == ("0", "1")
    assert plain.content == off.content
    a, b = (np.asarray(Image.open(io.BytesIO(r.content))).astype(int) for r in (plain, on))
    assert a.shape == b.shape == (288, 336, 3) and np.abs(a - b).max() > 0  # random weights: not symmetric
    r = post("maybe")
    assert r.status_code == 400 and "self_ensemble must be 1 or 0" in r.json()["error"]


def test_oversize_upload_refused(client: TestClient) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    big = _png(noise)
    assert len(big) > 100_000
    r = _post(client, big)
    assert r.status_code == 413
    assert "limit of 100 kB" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while it is received
        yield (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
               b"Content-Type: image/png\r\n\r\n")
        for _ in range(30):
            yield b"\0" * 10_000
        yield b"\r\n--XX--\r\n"

    r = client.post("/api/upscale", content=chunks(),
                    headers={"content-type": "multipart/form-data; boundary=XX"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_too_many_pixels_refused(client: TestClient, photo: np.ndarray) -> None:
    r = _post(client, _png(np.tile(photo, (2, 2, 1))), scale="3")  # 672 x 576 > 200,000 pixels
    assert r.status_code == 413
    assert "672x576" in r.json()["error"] and "200,000 pixels" in r.json()["error"]


def test_a_header_bomb_is_too_large_not_unreadable(client: TestClient) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # a 100 kB-cheap PNG whose header announces 60000 x 60000 pixels: refused before decoding, as too large
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    r = _post(client, bomb, scale="3")
    assert r.status_code == 413, r.text
    assert "header announces more than" in r.json()["error"] and "--max-pixels" not in r.json()["error"]


def test_a_request_without_a_model_gets_one_for_its_scale(client: TestClient, photo_png: bytes) -> None:
    # the form's model field left out: the first model given that serves the scale, not always the first model
    for scale, model in (("3", "w.safetensors"), ("2", "identity.safetensors")):
        r = client.post("/api/upscale", files={"file": ("photo.png", photo_png, "image/png")}, data={"scale": scale})
        assert r.status_code == 200, r.text
        assert r.headers["x-model"] == model


@pytest.mark.parametrize(("scale", "words"), [("abc", "must be a number"), ("1", "greater than 1"),
                                              ("40", "maximum"), ("", "no scale"),
                                              ("2", "trained for x3")])
def test_bad_scale_refused(client: TestClient, photo_png: bytes, scale: str, words: str) -> None:
    r = _post(client, photo_png, scale=scale)
    assert r.status_code == 400
    assert words in r.json()["error"]


def test_bad_requests_refused(client: TestClient, photo_png: bytes) -> None:
    r = _post(client, b"this is not an image")
    assert r.status_code == 415 and "photo.png" in r.json()["error"]
    assert "not an image" in r.json()["error"]
    r = _post(client, photo_png, model="nope")
    assert r.status_code == 400 and "unknown model 'nope'" in r.json()["error"]
    r = client.post("/api/upscale", data={"scale": "3"})
    assert r.status_code == 400 and "'file'" in r.json()["error"]


def test_inference_off_the_loop_and_no_files_left(client: TestClient, photo_png: bytes, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    svc = client.app.state.service  # type: ignore[attr-defined]
    seen: list[bool] = []
    real = svc.process

    def process(*a: Any) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(False)
        except RuntimeError:  # a worker thread: no event loop here
            seen.append(True)
        return real(*a)

    monkeypatch.setattr(svc, "process", process)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    assert _post(client, photo_png).status_code == 200
    assert seen == [True]
    assert list(tmp.iterdir()) == []  # the decoding folder is gone


def test_no_models_and_bad_settings(weights_file: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(WeightsError):
        create_app([str(tmp_path / "missing.safetensors")])
    with pytest.raises(ConfigError):
        create_app([str(weights_file)], max_upload_mb=0)
    if not REGISTRY:
        with pytest.raises(WeightsError, match="pass --weights"):
            create_app([])
        assert main(["serve"]) == 1
        assert "pass --weights" in capsys.readouterr().err
    assert main(["serve", "--port", "0", "-w", str(weights_file)]) == 2
    assert main(["serve", "--max-upload-mb", "-1", "-w", str(weights_file)]) == 2
    sock = bind_socket("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match="choose another --port"):
            bind_socket("127.0.0.1", port)
        assert main(["serve", "--port", str(port), "-w", str(weights_file)]) == 2
        assert "cannot listen" in capsys.readouterr().err
    finally:
        sock.close()


# ------------------------------------------------------------------------------ real browser
def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not installed (Debian packages chromium, chromium-driver)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed"
    return None


@pytest.fixture()
def live_server(identity_file: Path) -> Iterator[str]:
    import uvicorn

    app = create_app([str(identity_file)], max_upload_mb=0.1)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
def test_browser_upload_shows_result(live_server: str, tmp_path: Path, photo: np.ndarray) -> None:
    from playwright.sync_api import sync_playwright

    src = tmp_path / "photo.png"
    Image.fromarray(photo).save(src)
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(noise)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(live_server)
            page.wait_for_selector("#model option", state="attached")
            # Shipped models are listed first; pick the test's identity weights (trained for x2.5).
            page.select_option("#model", "identity.safetensors")
            assert page.input_value("#model") == "identity.safetensors"
            assert "100 kB" in page.inner_text("#limits")
            assert "trained for x2, x2.5, x3" in page.inner_text("#trained")
            scale = 2.5
            page.fill("#scale", str(scale))
            page.check("#ens")
            page.set_input_files("#file", str(src))
            page.wait_for_function("document.getElementById('result').dataset.ready === '1'",
                                   timeout=30_000)
            size = page.evaluate("() => { const i = document.getElementById('result');"
                                 " return [i.naturalWidth, i.naturalHeight]; }")
            assert size == [round(scale * 112), round(scale * 96)] == [280, 240]
            bic = page.evaluate("() => document.getElementById('bicubic').naturalWidth")
            assert bic == 280
            assert page.get_attribute("#download", "download") == "photo_srcnn_x2.5.png"
            assert (page.get_attribute("#download", "href") or "").startswith("blob:")
            assert page.is_hidden("#error")
            assert "112x96 → 280x240" in page.inner_text("#info")
            assert "self-ensemble" in page.inner_text("#tagB")
            page.screenshot(path=str(tmp_path / "serve.png"))
            # Too large a file: refused in the page with the limit, before any upload.
            page.set_input_files("#file", str(noise))
            page.wait_for_selector("#error", state="visible")
            assert "limit of 100 kB" in page.inner_text("#error")
        finally:
            browser.close()
