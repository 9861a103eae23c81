"""`course-lab serve-models`: the model server's HTTP/1.1 face on 127.0.0.1, in front of one ServingEngine.

Every request carries `Authorization: Bearer $COURSE_MODEL_SERVER_SECRET`. `POST /generate` answers JSON or, with
`"stream": true`, chunked NDJSON events flushed as the scheduler produces them; `GET /health`, `POST /unload`,
`GET /batches`. Standard library only (one thread per connection); the shapes are in labs/README.md.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from labs.serving.requests import BaseUnavailable, RequestError, parse_request

log = logging.getLogger("labs.serving")

SECRET_ENV = "COURSE_MODEL_SERVER_SECRET"
MAX_BODY_BYTES = 1 << 20


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True  # a stream still open at shutdown does not keep the process alive

    def __init__(self, address, engine, secret: str):
        super().__init__(address, Handler)
        self.engine = engine
        self.secret = secret.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the app's client; every answer has a length or is chunked
    server: ModelServer

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        log.info("%s %s", self.address_string(), format % args)

    # --- plumbing -----------------------------------------------------------------------------------------------

    def _send_json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, b"Bearer " + self.server.secret):
            return True
        self._send_json(401, {"error": "missing or wrong bearer secret"})
        return False

    def _read_json(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError("the request needs a JSON body with a Content-Length")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would otherwise be taken for the next request
            raise RequestError(f"the body is {length} bytes; at most {MAX_BODY_BYTES}")
        try:
            return json.loads(self.rfile.read(int(length)) or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError(f"the body is not valid JSON: {exc}") from exc

    def _client_gone(self) -> bool:
        """The peer closed its end (a non-streaming caller gave up): readable, and reading gives nothing."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _handle(self, route) -> None:
        if not self._authorized():
            return
        try:
            route()
        except RequestError as exc:
            self._send_json(400, {"error": str(exc)})
        except BaseUnavailable as exc:
            self._send_json(503, {"error": str(exc)})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug: logged with its traceback here, one line to the caller
            log.exception("%s %s failed", self.command, self.path)
            self._send_json(500, {"error": f"internal error: {type(exc).__name__}"})

    # --- routes -------------------------------------------------------------------------------------------------

    def do_GET(self):  # noqa: N802  (http.server's naming)
        url = urlsplit(self.path)
        routes = {"/health": self._health, "/batches": lambda: self._batches(parse_qs(url.query))}
        self._handle(routes.get(url.path, self._not_found))

    def do_POST(self):  # noqa: N802
        routes = {"/generate": self._generate, "/unload": self._unload}
        self._handle(routes.get(urlsplit(self.path).path, self._not_found))

    def _not_found(self):
        self._send_json(404, {"error": f"no route {self.command} {urlsplit(self.path).path}"})

    def _health(self):
        self._send_json(200, {"status": "ready", "pid": os.getpid(), **self.server.engine.health()})

    def _batches(self, query: dict):
        raw = query.get("limit", ["20"])[-1]
        if not raw.isdigit() or not 1 <= int(raw) <= 200:
            raise RequestError(f"limit should be an integer from 1 to 200, got {raw!r}")
        self._send_json(200, {"batches": self.server.engine.recent_batches(int(raw))})

    def _unload(self):
        body = self._read_json()
        if not isinstance(body, dict) or not isinstance(body.get("adapter_id"), str) or not body["adapter_id"]:
            raise RequestError('the body should be {"adapter_id": "..."}')
        self._send_json(200, {"unloaded": self.server.engine.unload_adapter(body["adapter_id"])})

    def _generate(self):
        body = self._read_json()
        request = parse_request(body)
        events = self.server.engine.generate_stream(request)  # errors (400, 503) raise before any byte is sent
        if body.get("stream"):
            self._stream(events)
        else:
            self._collect(request.request_id, events)

    def _collect(self, request_id: str, events) -> None:
        parts = []
        try:
            for event in events:
                if event["type"] == "delta":
                    parts.append(event["text"])
                    if self._client_gone():
                        return  # closing `events` cancels the row
                elif event["type"] == "error":
                    self._send_json(500, {"error": event["message"]})
                    return
                else:
                    result = {"request_id": request_id, "text": "".join(parts),
                              **{k: v for k, v in event.items() if k != "type"}}
                    self._send_json(200, result)
                    return
        finally:
            events.close()

    def _stream(self, events) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        try:
            for event in events:
                line = (json.dumps(event) + "\n").encode()
                self.wfile.write(b"%X\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the caller went away; closing `events` below stops its row
        finally:
            events.close()


def write_port_file(path: Path, port: int) -> None:
    """Write then rename, so a reader never sees an empty or half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, path)


def serve(host: str, port: int, port_file: Path | None, max_adapters: int, preload: list[str]) -> int:
    """Run until SIGTERM or SIGINT; returns the exit code."""
    from labs.serving.engine import ServingEngine

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s serve-models %(levelname)s %(message)s")
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        from labs import LabError

        raise LabError(f"set {SECRET_ENV} to the shared secret (never pass it as an argument)")
    engine = ServingEngine(max_adapters=max_adapters)
    httpd = ModelServer((host, port), engine, secret)

    def stop(signum, frame):  # shutdown() waits for serve_forever, which runs on this thread: ask from another
        log.info("signal %d: stopping", signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    actual = httpd.server_address[1]
    if port_file is not None:
        write_port_file(Path(port_file), actual)
    log.info("listening on http://%s:%d (max %d adapters per base)", host, actual, max_adapters)
    for base in preload:
        threading.Thread(target=_preload, args=(engine, base), daemon=True).start()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        engine.close()
        if port_file is not None:
            Path(port_file).unlink(missing_ok=True)
        log.info("stopped")
    return 0


def _preload(engine, base: str) -> None:
    try:
        engine.ensure_base(base)
    except BaseUnavailable as exc:
        log.warning("preload: %s", exc)
