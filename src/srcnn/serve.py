"""A local web page for SRCNN: drop an image, pick the scale and model, compare with bicubic.

``create_app`` builds a FastAPI application:

* ``GET /``: one self-contained HTML page (inline CSS and JavaScript, nothing fetched from the
  internet): drop or pick an image, choose scale and model, see the result next to bicubic with a
  before/after slider or side by side, zoom, download the PNG;
* ``GET /api/models``: the models on offer (shipped models and weights files given to the server)
  and the server's limits;
* ``POST /api/upscale`` (multipart: ``file``, ``scale``, ``model``, optional ``self_ensemble``
  ``1``/``0``: average the network over the 8 flips and rotations, 7-8x the time): the SRCNN
  result as PNG, with ``X-Input-Size``, ``X-Output-Size``, ``X-Model``, ``X-Scale``,
  ``X-Self-Ensemble`` headers; with ``?format=json`` a JSON object with the sizes, notes and both the
  SRCNN and the bicubic PNG in base64.

Errors come back as JSON ``{"error": "one-line message"}``: 413 when the upload or the result is
too large, 415 when the file is not a readable image, 400 for a bad scale or model. Uploads are
limited in bytes while they are received (the request is cut off at the limit) and in pixels
before the image is decoded (from its header). Inference runs in a worker thread, one request at a
time, off the event loop. The upload is decoded from a private temporary folder that is removed at
once; nothing else is written. The server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import base64
import io
import re
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from .errors import ConfigError, ImageReadError, ImageTooLargeError, SRCNNError, WeightsError
from .figures import bicubic_picture
from .images import encode_image, read_image_bytes
from .infer import DEFAULT_TILE, check_scale, output_size_for, resolve_model, upscale_picture
from .model import SRCNN
from .weights import Weights, load_weights

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 20.0
DEFAULT_MAX_PIXELS = 16_000_000  # of the result image
_FORM_SLACK = 64 * 1024  # multipart headers and the small fields around the file
#: Accepted values of the optional ``self_ensemble`` form field ("" when absent: off).
_FLAGS = {"": False, "0": False, "false": False, "off": False, "no": False,
          "1": True, "true": True, "on": True, "yes": True}

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


@dataclass
class ServedModel:
    """One model the page offers."""

    id: str
    label: str
    arch: str
    scales: tuple[float, ...]
    source: str  # "shipped" or "file"
    weights: Weights | None = None  # loaded at start for files, lazily for shipped models
    built: tuple[SRCNN, str] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "arch": self.arch, "scales": list(self.scales),
                "source": self.source}


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    """A request refused with an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _mb(n: float) -> str:
    """A byte count for people: 20 MB, 1.5 MB, 800 kB."""
    if n >= 1e7:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def _mp(n: float) -> str:
    """A pixel count for people: 16.0 megapixels, 90,000 pixels."""
    return f"{n / 1e6:.1f} megapixels" if n >= 1e6 else f"{int(n):,} pixels"


def _safe_stem(filename: str | None) -> str:
    stem = Path(filename or "image").stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "image"
    return stem[:60]


def _scales_text(scales: Sequence[float]) -> str:
    return ", ".join(f"x{s:g}" for s in scales) or "any scale"


def collect_models(weights_files: Sequence[str] = ()) -> list[ServedModel]:
    """Shipped models (from :data:`srcnn.pretrained.REGISTRY`) and the given weights files, which
    are loaded now so that a bad file is reported before the server starts."""
    from .pretrained import REGISTRY

    models: list[ServedModel] = []
    used: set[str] = set()
    for info in REGISTRY:
        models.append(ServedModel(info.name, f"{info.name} (SRCNN {info.arch}, "
                                  f"{_scales_text(info.scales)})", info.arch, tuple(info.scales),
                                  "shipped"))
        used.add(info.name)
    for spec in weights_files:
        w = load_weights(spec)
        base = Path(spec).name if Path(spec).expanduser().exists() else str(spec)
        mid, n = base, 2
        while mid in used:
            mid, n = f"{base} ({n})", n + 1
        used.add(mid)
        models.append(ServedModel(mid, f"{mid} (SRCNN {w.config.name}, {_scales_text(w.scales)})",
                                  w.config.name, tuple(w.scales), "file", w))
    return models


class _Service:
    """The state behind the app: models, limits, the one-at-a-time worker limiter."""

    def __init__(self, models: list[ServedModel], max_upload_bytes: int, max_pixels: int,
                 tile: int | None, device: str) -> None:
        self.models = {m.id: m for m in models}
        self.order = [m.id for m in models]
        self.max_upload_bytes = max_upload_bytes
        self.max_pixels = max_pixels
        self.tile = tile
        self.device = device
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created inside the event loop, on first use
            self._limiter = anyio.CapacityLimiter(1)
        return self._limiter

    @property
    def default(self) -> str | None:
        """The model the page starts on: the first one given with --weights, else the first shipped one."""
        given = [i for i in self.order if self.models[i].source == "file"]
        first = given or self.order
        return first[0] if first else None

    def info(self) -> dict[str, Any]:
        return {"models": [self.models[i].to_dict() for i in self.order],
                "default": self.default,
                "max_upload_bytes": self.max_upload_bytes, "max_pixels": self.max_pixels}

    def model_id_for(self, scale: float) -> str:
        """The model a request without one gets: the first given one that serves ``scale``, else the best
        shipped model for it, else the page's default (whose refusal then names the scales it serves)."""
        from .pretrained import best_for_scale

        for i in self.order:
            m = self.models[i]
            if m.source == "file" and m.weights is not None and m.weights.supports_scale(scale):
                return i
        best = best_for_scale(scale)
        if best is not None and best.name in self.models:
            return best.name
        return self.default or ""

    def model_for(self, model_id: str, scale: float) -> tuple[ServedModel, SRCNN, str]:
        m = self.models.get(model_id)
        if m is None:
            names = ", ".join(self.order) or "none"
            raise _Refused(400, f"unknown model {model_id!r}; this server offers: {names}")
        if m.weights is None:
            from .pretrained import load_shipped

            m.weights = load_shipped(m.id)
        w = m.weights
        assert w is not None
        if not w.supports_scale(scale):
            raise _Refused(400, f"model {m.id} was trained for {_scales_text(w.scales)}, not "
                           f"x{scale:g}; choose that scale or another model")
        if w.scale_poly is not None:  # scale-conditioned: a plain network per scale (cheap to fold)
            model, mode = resolve_model(w, scale, device=self.device, strict_scale=False)
            return m, model, mode
        if m.built is None:
            m.built = resolve_model(w, scale, device=self.device, strict_scale=False)
        return m, m.built[0], m.built[1]

    def process(self, data: bytes, filename: str | None, scale: float, model_id: str,
                want_bicubic: bool, self_ensemble: bool = False) -> dict[str, Any]:
        """Decode, check, upscale and encode (runs in a worker thread)."""
        t0 = time.perf_counter()
        m, model, mode = self.model_for(model_id, scale)
        shown = _safe_stem(filename) + Path(filename or "").suffix[:10]
        # Refuse from the header, before decoding, when the result would be too large.
        try:
            with Image.open(io.BytesIO(data)) as probe:
                w, h = probe.size
        except Exception:  # unreadable: read_image below gives the reason
            pass
        else:
            oh, ow = output_size_for(h, w, scale)
            if ow * oh > self.max_pixels:
                raise _Refused(413, f"the result would be {ow}x{oh} = {_mp(ow * oh)}, above this "
                               f"server's limit of {_mp(self.max_pixels)}; use a smaller image "
                               "or a smaller scale")
        try:
            pic = read_image_bytes(data, name=shown, max_pixels=self.max_pixels)
        except ImageTooLargeError:
            raise _Refused(413, f"the image's header announces more than this server's limit of "
                           f"{_mp(self.max_pixels)}; use a smaller image") from None
        except ImageReadError as e:
            raise _Refused(415, str(e)) from None
        res = upscale_picture(pic, scale, model, mode, tile=self.tile, device=self.device,
                              self_ensemble=self_ensemble)
        png, notes = encode_image(res, "PNG")
        out: dict[str, Any] = {
            "input": {"width": pic.size[0], "height": pic.size[1]},
            "output": {"width": res.size[0], "height": res.size[1]},
            "scale": scale, "model": m.id, "arch": m.arch, "self_ensemble": self_ensemble,
            "notes": pic.notes + notes,
            "filename": f"{_safe_stem(filename)}_srcnn_x{scale:g}.png",
            "png": png,
        }
        if want_bicubic:
            out["bicubic_png"] = encode_image(bicubic_picture(pic, scale), "PNG")[0]
        out["seconds"] = round(time.perf_counter() - t0, 3)
        return out


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        msg = await receive()
        if msg.get("type") == "http.request":
            seen += len(msg.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return msg

    return wrapped


def create_app(weights_files: Sequence[str] = (), *, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
               max_pixels: int = DEFAULT_MAX_PIXELS, tile: int | None = DEFAULT_TILE,
               device: str = "cpu", models: list[ServedModel] | None = None) -> FastAPI:
    """The web application. ``weights_files``: extra weights (``.safetensors``, ``.mat`` or model
    names) offered besides the shipped models. Raises :class:`WeightsError` for a bad file and
    when there is no model at all."""
    if not max_upload_mb > 0:
        raise ConfigError(f"max upload size must be positive, got {max_upload_mb}")
    if max_pixels < 1:
        raise ConfigError(f"max pixels must be positive, got {max_pixels}")
    served = collect_models(weights_files) if models is None else models
    if not served:
        raise WeightsError("no shipped models in this version and no weights given; "
                           "pass --weights FILE (a .safetensors or an authors' .mat file)")
    svc = _Service(served, int(max_upload_mb * 1e6), max_pixels, tile, device)
    app = FastAPI(title="SRCNN", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = svc

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})

    @app.get("/api/models")
    async def api_models() -> dict[str, Any]:
        return svc.info()

    @app.post("/api/upscale")
    async def api_upscale(request: Request) -> Response:
        limit = svc.max_upload_bytes
        too_big = (f"the upload is larger than this server's limit of {_mb(limit)}; "
                   "use a smaller file")
        cl = request.headers.get("content-length")
        if cl is not None and cl.isdigit() and int(cl) > limit + _FORM_SLACK:
            return _error(413, f"the upload is {_mb(int(cl))}, above this server's limit of "
                          f"{_mb(limit)}; use a smaller file")
        req = Request(request.scope, _limited(request.receive, limit + _FORM_SLACK))
        try:
            async with req.form(max_files=1, max_fields=8) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    return _error(400, "no image: send it as the multipart field 'file'")
                data = await upload.read(limit + 1)
                filename = upload.filename
                scale_s, model_id = form.get("scale"), form.get("model")
                ens_s = form.get("self_ensemble")
        except _TooLarge:
            return _error(413, too_big)
        except HTTPException as e:
            return _error(e.status_code if 400 <= e.status_code < 500 else 400, str(e.detail))
        if len(data) > limit:
            return _error(413, too_big)
        if not data:
            return _error(400, "the file is empty (0 bytes)")
        if not isinstance(scale_s, str) or not scale_s.strip():
            return _error(400, "no scale: send the multipart field 'scale', e.g. 3")
        try:
            scale = check_scale(scale_s.strip())
        except ConfigError as e:
            return _error(400, str(e))
        if not isinstance(model_id, str) or not model_id:
            model_id = svc.model_id_for(scale)
        ens_v = ens_s.strip().lower() if isinstance(ens_s, str) else ""
        if ens_v not in _FLAGS:
            return _error(400, f"self_ensemble must be 1 or 0 (true/false, on/off), got {ens_v[:20]!r}")
        as_json = request.query_params.get("format") == "json"
        try:
            res = await anyio.to_thread.run_sync(svc.process, data, filename, scale, model_id,
                                                 as_json, _FLAGS[ens_v], limiter=svc.limiter)
        except _Refused as e:
            return _error(e.status, str(e))
        except MemoryError:
            return _error(413, "out of memory for this image; use a smaller image or scale")
        except SRCNNError as e:
            return _error(400 if isinstance(e, (ConfigError, WeightsError)) else 500, str(e))
        if as_json:
            doc = {k: v for k, v in res.items() if k not in ("png", "bicubic_png")}
            doc["png"] = base64.b64encode(res["png"]).decode("ascii")
            doc["bicubic_png"] = base64.b64encode(res["bicubic_png"]).decode("ascii")
            return JSONResponse(doc)
        headers = {
            "X-Input-Size": f"{res['input']['width']}x{res['input']['height']}",
            "X-Output-Size": f"{res['output']['width']}x{res['output']['height']}",
            "X-Model": res["model"], "X-Scale": f"{scale:g}",
            "X-Self-Ensemble": "1" if res["self_ensemble"] else "0",
            "X-Seconds": f"{res['seconds']:.3f}",
            "Content-Disposition": f'inline; filename="{res["filename"]}"',
        }
        return Response(res["png"], media_type="image/png", headers=headers)

    return app


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def bind_socket(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port). Raises :class:`ConfigError`
    with a one-line reason when the address cannot be used (taken, unknown host, ...)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on {host!r}: unknown host ({e.strerror})") from None
    family, _type, _proto, _name, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        why = e.strerror or str(e)
        raise ConfigError(f"cannot listen on {host}:{port}: {why}; choose another --port") from None
    return sock


def run_server(app: FastAPI, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn on a socket from :func:`bind_socket` until interrupted."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SRCNN super-resolution</title>
<style>
  :root { --fg:#1d1d1f; --muted:#666; --line:#d0d0d5; --accent:#2f6fde; --bad:#b3261e; }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color:var(--fg); background:#f6f6f8; }
  header { padding:14px 20px; background:#fff; border-bottom:1px solid var(--line); }
  header h1 { font-size:19px; margin:0; }
  header p { margin:2px 0 0; color:var(--muted); font-size:13px; }
  main { padding:16px 20px; max-width:1400px; margin:0 auto; }
  #drop { border:2px dashed var(--line); border-radius:10px; background:#fff; padding:18px;
          text-align:center; color:var(--muted); }
  #drop.over { border-color:var(--accent); background:#eef3fd; }
  #drop label { color:var(--accent); cursor:pointer; text-decoration:underline; }
  #file { position:absolute; width:1px; height:1px; opacity:0; }
  .row { display:flex; flex-wrap:wrap; gap:14px; align-items:center; margin:12px 0; }
  select, input[type=number], button, .btn { font:inherit; padding:5px 9px; border:1px solid var(--line);
          border-radius:6px; background:#fff; color:var(--fg); }
  input[type=number] { width:5.5em; }
  button, .btn { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer;
          text-decoration:none; }
  button:disabled { opacity:.5; cursor:default; }
  .muted { color:var(--muted); font-size:13px; }
  #error { color:var(--bad); background:#fdecea; border:1px solid #f3c1bd; border-radius:6px;
           padding:8px 12px; margin:10px 0; }
  #status { min-height:1.4em; }
  #stage { position:relative; background:#fff; border:1px solid var(--line); border-radius:8px;
           overflow:auto; max-height:76vh; user-select:none; width:fit-content; max-width:100%; }
  #stage.fit { width:100%; }
  #stage img { display:block; max-width:none; }
  #stage.zoomed img { image-rendering:pixelated; }
  .pane { position:relative; }
  .tag { position:absolute; top:6px; left:6px; background:rgba(0,0,0,.6); color:#fff; font-size:12px;
         padding:2px 7px; border-radius:4px; pointer-events:none; white-space:nowrap; }
  #stage.slider #paneB { position:absolute; left:0; top:0; }
  #stage.slider #divider { position:absolute; top:0; width:2px; background:#fff;
           box-shadow:0 0 0 1px rgba(0,0,0,.4); pointer-events:none; }
  #stage.slider { cursor:ew-resize; }
  #stage.side { display:flex; gap:6px; overflow:visible; max-height:none; border:0; background:none;
           width:100%; }
  #stage.side .pane { flex:1 1 0; overflow:auto; max-height:76vh; background:#fff;
           border:1px solid var(--line); border-radius:8px; }
  #stage.side #divider { display:none; }
  #split { width:min(420px, 60vw); }
</style>
</head>
<body>
<header>
  <h1>SRCNN super-resolution</h1>
  <p>Runs on this computer: images are not sent anywhere else.</p>
</header>
<main>
  <div id="drop">
    Drop an image here, or <label for="file">choose a file</label>
    <input id="file" type="file" accept="image/*,.tif,.tiff,.bmp,.webp">
    <div class="muted" id="limits"></div>
  </div>
  <div class="row">
    <label>Model <select id="model"></select></label>
    <span class="muted" id="trained"></span>
    <label>Scale <input id="scale" type="number" min="1.1" max="16" step="0.1" value="3"></label>
    <label title="average the network over the 8 flips and rotations of the image:
a little sharper, 7-8x slower"><input id="ens" type="checkbox"> Self-ensemble</label>
    <button id="go" disabled>Upscale</button>
  </div>
  <div id="error" role="alert" hidden></div>
  <div id="status" class="muted" aria-live="polite"></div>
  <section id="view" hidden>
    <div class="row">
      <label>View <select id="mode">
        <option value="slider">before/after slider</option>
        <option value="side">side by side</option>
      </select></label>
      <label id="splitbox">Split <input id="split" type="range" min="0" max="100" value="50"></label>
      <label>Zoom <select id="zoom">
        <option value="0">fit</option><option value="1">100%</option><option value="2">200%</option>
        <option value="3">300%</option><option value="4">400%</option><option value="8">800%</option>
      </select></label>
      <a id="download" class="btn" download="result.png" href="#">Download PNG</a>
      <span id="info" class="muted"></span>
    </div>
    <div id="stage" class="slider">
      <div class="pane" id="paneA">
        <img id="bicubic" alt="bicubic"><span class="tag" id="tagA">bicubic</span>
      </div>
      <div class="pane" id="paneB">
        <img id="result" alt="SRCNN result"><span class="tag" id="tagB">SRCNN</span>
      </div>
      <div id="divider"></div>
    </div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let models = [], limits = {max_upload_bytes: 0, max_pixels: 0}, current = null, busy = false;
let resultUrl = null, bicubicUrl = null;

function mb(n) {
  if (n >= 1e7) return (n / 1e6).toFixed(0) + " MB";
  return n >= 1e6 ? (n / 1e6).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1e3)) + " kB";
}
function mp(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(1) + " megapixels" : n.toLocaleString("en") + " pixels";
}
function showError(msg) {
  $("error").textContent = msg; $("error").hidden = false; $("status").textContent = "";
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }
function modelById(id) { return models.find((m) => m.id === id); }
function scalesText(s) { return s.length ? "trained for " + s.map((x) => "x" + x).join(", ") : ""; }

async function loadModels() {
  const r = await fetch("/api/models");
  const j = await r.json();
  models = j.models; limits = j;
  const sel = $("model");
  for (const m of models) {
    const o = document.createElement("option"); o.value = m.id; o.textContent = m.label; sel.appendChild(o);
  }
  if (j.default) sel.value = j.default;
  $("limits").textContent = "Files up to " + mb(j.max_upload_bytes) + "; results up to " +
    mp(j.max_pixels) + ".";
  modelChanged(false);
}

function modelChanged(rerun) {
  const m = modelById($("model").value);
  if (!m) return;
  $("trained").textContent = scalesText(m.scales);
  const s = parseFloat($("scale").value);
  if (m.scales.length === 1 && Math.abs(m.scales[0] - s) > 1e-6) $("scale").value = m.scales[0];
  const inRange = s >= Math.min(...m.scales) && s <= Math.max(...m.scales);
  if (m.scales.length > 1 && !inRange) $("scale").value = m.scales[0];
  if (rerun) run();
}

function imageSize(file) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file), im = new Image();
    const done = (v) => { URL.revokeObjectURL(url); resolve(v); };
    im.onload = () => done([im.naturalWidth, im.naturalHeight]);
    im.onerror = () => done(null);
    setTimeout(() => done(null), 5000);
    im.src = url;
  });
}

function setFile(f) {
  if (!f) return;
  current = f;
  $("go").disabled = false;
  run();
}

async function run() {
  if (!current || busy) return;
  clearError();
  const scale = parseFloat($("scale").value);
  if (!(scale > 1 && scale <= 16)) {
    showError("The scale must be a number above 1 and at most 16."); return;
  }
  if (current.size > limits.max_upload_bytes) {
    showError(current.name + " is " + mb(current.size) + ", above this server's limit of " +
              mb(limits.max_upload_bytes) + ". Use a smaller file."); return;
  }
  const dims = await imageSize(current);
  if (dims) {
    const ow = Math.max(1, Math.floor(dims[0] * scale + 0.5));
    const oh = Math.max(1, Math.floor(dims[1] * scale + 0.5));
    if (ow * oh > limits.max_pixels) {
      showError("The result would be " + ow + "x" + oh + " = " + mp(ow * oh) +
                ", above this server's limit of " + mp(limits.max_pixels) +
                ". Use a smaller image or a smaller scale."); return;
    }
  }
  busy = true; $("go").disabled = true; $("result").dataset.ready = "0";
  $("status").textContent = "Upscaling " + current.name + " x" + scale + " …";
  const fd = new FormData();
  fd.append("file", current); fd.append("scale", String(scale)); fd.append("model", $("model").value);
  fd.append("self_ensemble", $("ens").checked ? "1" : "0");
  try {
    const t0 = performance.now();
    const r = await fetch("/api/upscale?format=json", {method: "POST", body: fd});
    let j = null;
    try { j = await r.json(); } catch (e) { j = {error: "the server answered " + r.status}; }
    if (!r.ok) { showError(j.error || ("the server answered " + r.status)); return; }
    const toBlob = async (b64) => (await fetch("data:image/png;base64," + b64)).blob();
    const [rb, bb] = await Promise.all([toBlob(j.png), toBlob(j.bicubic_png)]);
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    if (bicubicUrl) URL.revokeObjectURL(bicubicUrl);
    resultUrl = URL.createObjectURL(rb); bicubicUrl = URL.createObjectURL(bb);
    await Promise.all([loadImg($("result"), resultUrl), loadImg($("bicubic"), bicubicUrl)]);
    $("download").href = resultUrl; $("download").download = j.filename;
    $("tagB").textContent = "SRCNN " + j.arch + " (" + j.model + (j.self_ensemble ? ", self-ensemble" : "") + ")";
    $("info").textContent = j.input.width + "x" + j.input.height + " → " + j.output.width + "x" +
      j.output.height + " (x" + j.scale + ") in " + j.seconds.toFixed(2) + " s" +
      (j.notes.length ? "; " + j.notes.join("; ") : "");
    $("view").hidden = false;
    $("status").textContent = "Done in " + ((performance.now() - t0) / 1000).toFixed(1) + " s.";
    applyZoom(); $("result").dataset.ready = "1";
  } catch (e) {
    showError("Could not reach the server: " + e);
  } finally {
    busy = false; $("go").disabled = !current;
  }
}

function loadImg(img, url) {
  return new Promise((resolve, reject) => { img.onload = resolve; img.onerror = reject; img.src = url; });
}

function applyZoom() {
  const z = parseFloat($("zoom").value), stage = $("stage");
  stage.classList.toggle("zoomed", z > 1);
  stage.classList.toggle("fit", !z);
  for (const img of [$("result"), $("bicubic")]) {
    img.style.width = z ? (img.naturalWidth * z / (window.devicePixelRatio || 1)) + "px" : "100%";
  }
  $("paneB").style.width = z ? "auto" : "100%";
  updateSplit();
}

function updateSplit() {
  const stage = $("stage");
  if (!stage.classList.contains("slider")) { $("paneB").style.clipPath = ""; placeTags(); return; }
  const visible = Math.min(stage.clientWidth, $("result").offsetWidth - stage.scrollLeft);
  const pos = stage.scrollLeft + visible * $("split").value / 100;
  $("paneB").style.clipPath = "inset(0 0 0 " + pos + "px)";
  const d = $("divider");
  d.style.left = (pos - 1) + "px"; d.style.height = $("result").offsetHeight + "px";
  placeTags();
}

// Keep the labels in the visible corners: bicubic top left, SRCNN top right (slider) or top left.
function placeTags() {
  const side = $("mode").value === "side";
  const a = side ? $("paneA") : $("stage"), b = side ? $("paneB") : $("stage");
  const ta = $("tagA"), tb = $("tagB");
  ta.style.left = (a.scrollLeft + 6) + "px"; ta.style.top = (a.scrollTop + 6) + "px";
  const right = Math.min(b.clientWidth, $("result").offsetWidth - b.scrollLeft);
  tb.style.left = (b.scrollLeft + (side ? 6 : right - tb.offsetWidth - 6)) + "px";
  tb.style.top = (b.scrollTop + 6) + "px";
}

function setMode() {
  const side = $("mode").value === "side", stage = $("stage");
  stage.className = side ? "side" : "slider";
  $("splitbox").hidden = side;
  applyZoom();
}

// Side by side: scroll both panes together.
let syncing = false;
for (const [a, b] of [["paneA", "paneB"], ["paneB", "paneA"]]) {
  $(a).addEventListener("scroll", () => {
    if (syncing || $("mode").value !== "side") return;
    syncing = true; $(b).scrollLeft = $(a).scrollLeft; $(b).scrollTop = $(a).scrollTop; syncing = false;
    placeTags();
  });
}
$("stage").addEventListener("scroll", updateSplit);
let dragging = false;
$("stage").addEventListener("pointerdown", (e) => {
  if ($("mode").value === "slider") { dragging = true; drag(e); }
});
window.addEventListener("pointerup", () => { dragging = false; });
$("stage").addEventListener("pointermove", (e) => { if (dragging) drag(e); });
function drag(e) {
  const r = $("stage").getBoundingClientRect();
  $("split").value = Math.max(0, Math.min(100, (e.clientX - r.left) / r.width * 100));
  updateSplit();
}
$("split").addEventListener("input", updateSplit);
$("zoom").addEventListener("change", applyZoom);
$("mode").addEventListener("change", setMode);
window.addEventListener("resize", updateSplit);
$("file").addEventListener("change", (e) => setFile(e.target.files[0]));
$("go").addEventListener("click", run);
$("model").addEventListener("change", () => modelChanged(true));
$("scale").addEventListener("change", run);
const drop = $("drop");
for (const ev of ["dragenter", "dragover"]) {
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const ev of ["dragleave", "drop"]) {
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
}
drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]); });
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());
loadModels().catch((e) => showError("Could not load the model list: " + e));
</script>
</body>
</html>
"""
