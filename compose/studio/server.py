"""The studio's HTTP server: the actions of compose.studio.actions behind JSON routes, and the page.

FastAPI carries the dicts; nothing here parses, plans or draws. Generation runs one request at a time
per model: each request waits its turn in the model's queue (a single worker thread, first come first
served), at most `queue_limit` deep; beyond that a request is refused at once with a clear error
rather than left hanging. Parsing, planning and the layout actions run beside it on other threads, so
typing stays quick while a picture is drawn.

Security: the server listens on 127.0.0.1 unless told otherwise, and then answers only requests
addressed to a loopback name (a page elsewhere cannot reach it through DNS rebinding). Every POST must
be JSON (a cross-site form cannot post it without a preflight the server never grants), request bodies
are bounded (`MAX_BODY_BYTES`), uploads arrive as bytes inside the JSON and are read in memory
(compose.studio.uploads), and no path sent by the page is ever opened.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from compose.studio.actions import Studio
from compose.studio.uploads import MAX_FILE_BYTES, MAX_FILES, Upload

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = (MAX_FILE_BYTES * MAX_FILES) * 4 // 3 + 1_000_000  # every upload, base64, plus the JSON
QUEUE_LIMIT = 64
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
STATIC_FILES = {"index.html": "text/html", "studio.js": "text/javascript", "studio.css": "text/css"}


class RequestError(Exception):
    """A request the server refuses before any action runs: an HTTP status and one line for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ModelQueue:
    """One worker thread per model: requests are drawn one at a time, in the order they came, and at
    most `limit` wait; `waiting` is how many are queued or drawing now."""

    def __init__(self, limit: int = QUEUE_LIMIT):
        self.limit = limit
        self.waiting = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compose-studio-model")

    async def run(self, function, *args):
        with self._lock:
            if self.waiting >= self.limit:
                raise RequestError(503, f"the studio is busy: {self.waiting} pictures are waiting to be drawn "
                                        f"(at most {self.limit}); try again in a moment")
            self.waiting += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(function, *args))
        finally:
            with self._lock:
                self.waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def create_app(studio: Studio, *, allowed_hosts: list[str] | None = None, queue_limit: int = QUEUE_LIMIT):
    """The FastAPI application of one studio. `allowed_hosts`: the Host names answered (None: any)."""
    app = FastAPI(title="compose studio", docs_url=None, redoc_url=None, openapi_url=None)
    queue = ModelQueue(queue_limit)
    app.state.queue = queue
    pages = {name: resources.files("compose.studio").joinpath("static", name).read_bytes() for name in STATIC_FILES}

    @app.middleware("http")
    async def guard(request: Request, call_next):
        """Refuse what no action should see: other Host names, non-JSON posts, oversized bodies."""
        try:
            _check_request(request, allowed_hosts)
        except RequestError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        return await call_next(request)

    async def answer(request: Request, action, *, queued=None):
        """Read the JSON body, run `action(body)` on a worker thread, then `queued(its result)` in the
        model's queue if given, and turn input errors into 400 answers with the message the CLI gives."""
        try:
            body = await _read_json(request)
            result = await run_in_threadpool(action, body)
            if queued is not None:
                result = await queue.run(queued, result)
        except RequestError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": " ".join(str(error).split())}, status_code=400)
        except Exception as error:  # noqa: BLE001 - the page shows it; the log keeps the traceback
            logger.exception("studio action failed")
            return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)
        return JSONResponse(result)

    def static(name: str):
        return Response(pages[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/")
    async def index():
        return static("index.html")

    @app.get("/favicon.ico")
    async def favicon():
        return Response(status_code=204)

    @app.get("/static/{name}")
    async def static_file(name: str):
        if name not in STATIC_FILES:
            return JSONResponse({"error": "not found"}, status_code=404)
        return static(name)

    @app.get("/api/info")
    async def info():
        return JSONResponse({**studio.info(), "queue": queue.waiting})

    @app.post("/api/scene")
    async def scene(request: Request):
        return await answer(request, lambda body: studio.scene_and_layout(body.get("prompt"), body.get("seed", 0)))

    @app.post("/api/check")
    async def check(request: Request):
        return await answer(request, lambda body: studio.check_layout(body.get("layout")))

    @app.post("/api/open")
    async def open_files(request: Request):
        return await answer(request, lambda body: studio.open_files(_uploads(body.get("files"))))

    @app.post("/api/example")
    async def example(request: Request):
        return await answer(request, lambda body: studio.open_example(body.get("name")))

    @app.post("/api/sketch")
    async def sketch(request: Request):
        return await answer(request, lambda body: studio.painted_sketch(body.get("image"), body.get("legend"),
                                                                       body.get("prompt")))

    @app.post("/api/save")
    async def save(request: Request):
        return await answer(request, lambda body: studio.save_layout(body.get("layout"), body.get("syntax", "json")))

    @app.post("/api/generate")
    async def generate(request: Request):
        return await answer(request, studio.prepare, queued=studio.draw)

    return app


def _check_request(request, allowed_hosts: list[str] | None) -> None:
    if allowed_hosts is not None:
        host = _host_name(request.headers.get("host", ""))
        if host not in allowed_hosts:
            raise RequestError(403, f"host {host!r} is not served; open the studio at its printed address")
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(415, "the studio's actions take JSON (Content-Type: application/json)")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            raise RequestError(413, f"the request has {length} bytes; at most {MAX_BODY_BYTES:,} are read "
                                    f"(uploads: {MAX_FILES} files of {MAX_FILE_BYTES:,} bytes)")


def _host_name(header: str) -> str:
    """The name in a Host header, without its port: "127.0.0.1:8765" -> "127.0.0.1", "[::1]:80" -> "[::1]"."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if ":" in header else header


async def _read_json(request) -> dict[str, Any]:
    """The request's JSON object, read with the body bounded while it streams in (a body sent without
    a Content-Length is counted too)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the request is over {MAX_BODY_BYTES:,} bytes; uploads are at most "
                                    f"{MAX_FILES} files of {MAX_FILE_BYTES:,} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except (ValueError, RecursionError):
        raise RequestError(400, "the request is not valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError(400, "the request must be a JSON object")
    return body


def _uploads(files: Any) -> list[Upload]:
    """The page's uploads, [{"name": ..., "data": base64}], as bytes in memory."""
    if not isinstance(files, list):
        raise ValueError("files: the page sent no list of files; choose the files again")
    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files were uploaded; at most {MAX_FILES} are read at once "
                         "(a layout file, or a sketch legend and its picture)")
    uploads = []
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("data"), str):
            raise ValueError('files: each file is {"name": ..., "data": base64}; choose the files again')
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{item['name']}: the upload is not valid base64; choose the file again") from None
        uploads.append(Upload(item["name"], data))
    return uploads


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening socket, so that a port in use is a clear error before anything starts."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port {port!r}: give a port from 0 to 65535 (0: any free one)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # No Nagle delay: an answer's headers and body leave at once (with it, each small JSON answer
    # waited ~40 ms for the client's delayed ACK). Accepted connections inherit the option.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"--host {host} --port {port}: cannot listen there ({error.strerror or error}); "
                      "check --host, or choose another --port (--port 0: any free one)") from None
    sock.listen(128)
    return sock


class StudioServer:
    """A studio served by uvicorn on a bound socket: `run()` in the foreground (the CLI) or `start()`
    on a thread (tests, benchmarks); `url` is its address."""

    def __init__(self, studio: Studio, host: str = "127.0.0.1", port: int = 8765, queue_limit: int = QUEUE_LIMIT):
        import uvicorn

        allowed = [*LOOPBACK_HOSTS] if is_loopback(host) else None
        self.app = create_app(studio, allowed_hosts=allowed, queue_limit=queue_limit)
        self.socket = listening_socket(host, port)
        bound_port = self.socket.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown_host}:{bound_port}/"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        self.server.run(sockets=[self.socket])

    def start(self) -> StudioServer:
        self._thread = threading.Thread(target=self.run, name="compose-studio-server", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the studio server stopped while starting")
            self._thread.join(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.app.state.queue.close()
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()


def serve(model: str | None = None, host: str = "127.0.0.1", port: int = 8765, device: str = "cpu") -> None:
    """`compose studio`: load the model, print the address, serve until interrupted."""
    studio = Studio(model, device=device)
    server = StudioServer(studio, host, port)
    logger.info("compose studio: loading the model (%s)...", model or "bundled")
    studio.load()
    if not is_loopback(host):
        logger.warning("compose studio: listening on %s, reachable from other machines; the studio has no login",
                       host)
    print(f"compose studio: open {server.url} (Ctrl+C to stop)", flush=True)
    server.run()
