"""The web process's side of the model server: it starts `python -m labs serve-models` on first use (or with the
app), talks to it over HTTP on 127.0.0.1 with a secret made fresh for every start, restarts it when it has died
and stops it with the app. Inference itself lives in that process; nothing here imports torch.
"""

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from starlette.concurrency import run_in_threadpool

from app.settings import Settings
from labs.job_env import job_environment

log = logging.getLogger("course.serving")
# Importing torch and binding a port takes 5-15 s on a busy laptop; past this the start counts as failed.
START_TIMEOUT_S = 300
RETRY_AFTER_S = 5  # what a 503 tells a client to wait: about one poll of a starting server
FAILED_START_PAUSE_S = 30  # after a start that failed, callers get its reason for this long before a new try
STOP_TIMEOUT_S = 15


@dataclass(frozen=True)
class Generation:
    """One generation request, as the app sends it to the model server."""

    base: str
    adapter_id: str | None
    adapter_path: str | None
    messages: list[dict]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def body(self, stream: bool) -> dict:
        fields = asdict(self)
        adapter = {"id": self.adapter_id, "path": self.adapter_path} if self.adapter_id else None
        for name in ("adapter_id", "adapter_path"):
            fields.pop(name)
        return {**fields, "adapter": adapter, "stream": stream}


class ModelServerUnavailable(Exception):
    """503: message for a person (loading, failed to start, restarting), and how long to wait before a retry."""

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class ModelServerRejected(ValueError):
    """400 from the model server: a request the app should have refused itself (the message says why)."""


class ModelServerClient:
    """The local model server: one child process per web process, started when first needed.

    Every method is async and safe to call from any event loop (test clients each run their own): the process is
    managed from worker threads, and each loop gets its own HTTP connection pool."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.directory = settings.data_dir / "model-server"
        self.starts = 0  # processes started so far (a restart shows here; the tests read it)
        self._process: subprocess.Popen | None = None
        self._secret = ""
        self._port_file: Path | None = None
        self._started_at = 0.0
        self._url: str | None = None
        self._ready_bases: set[str] = set()
        self._warming: set[str] = set()
        self._failure: tuple[float, str] | None = None  # (until, why) after a failed start
        self._listened = False  # whether the current process got as far as listening
        self._lock = threading.Lock()  # one process at a time, whichever thread or loop asks
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # -- the process ------------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.poll() is None else None

    def command(self, port_file: Path) -> list[str]:
        return [sys.executable, "-m", "labs", "serve-models", "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(port_file), "--max-adapters", str(self.settings.model_server_max_adapters),
                "--parent-pid", str(os.getpid())]

    async def start(self) -> None:
        """Start the process unless it runs already; returns at once (it becomes ready in the background)."""
        await run_in_threadpool(self._start_if_stopped)

    def _start_if_stopped(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            self._secret = secrets.token_urlsafe(32)
            self._port_file = self.directory / f"port-{uuid.uuid4().hex[:12]}"
            env = job_environment(self.settings.data_dir) | {"COURSE_MODEL_SERVER_SECRET": self._secret}
            with open(self.directory / "model-server.log", "ab") as log_file:  # the child keeps its own handle
                self._process = subprocess.Popen(self.command(self._port_file), env=env, stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.DEVNULL, stderr=log_file)
            self._started_at = time.monotonic()
            self._url, self._ready_bases, self._warming, self._listened = None, set(), set(), False
            self.starts += 1
            log.info("model server started, pid %s", self._process.pid)

    def _log_tail(self) -> str:
        """The last line the server logged (its error, when it died): read from the file's end only."""
        try:
            with open(self.directory / "model-server.log", "rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 4000))
                lines = file.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][-300:] if lines else ""

    def _reap_if_dead(self) -> str | None:
        """Forget a process that has exited; returns what to tell the caller about it, if it had."""
        process = self._process
        if process is None or process.poll() is None:
            return None
        with self._lock:
            if self._process is not process:
                return None
            self._process, self._url, self._ready_bases = None, None, set()
        why = f"exit code {process.returncode}" + (f": {tail}" if (tail := self._log_tail()) else "")
        log.warning("model server pid %s stopped (%s)", process.pid, why)
        if not self._listened:  # it never came up: starting it again at once would most likely fail the same way
            self._failure = (time.monotonic() + FAILED_START_PAUSE_S, f"The model server failed to start ({why}).")
        return why

    async def _address(self) -> str:
        """The server's URL once it listens; otherwise start it (or notice it died) and say so with a 503."""
        died = self._reap_if_dead()
        if self._process is None:
            if self._failure and time.monotonic() < self._failure[0]:
                raise ModelServerUnavailable(self._failure[1], FAILED_START_PAUSE_S)
            await self.start()
            if died:
                raise ModelServerUnavailable(f"The model server stopped ({died}); it is restarting, try again shortly.")
            raise ModelServerUnavailable("The model server is starting; try again in a few seconds.")
        if self._url is None:
            self._url = self._read_port_file()
        if self._url is None:
            if time.monotonic() - self._started_at > START_TIMEOUT_S:
                await run_in_threadpool(self._stop)
                self._failure = (time.monotonic() + FAILED_START_PAUSE_S,
                                 f"The model server did not start within {START_TIMEOUT_S} s.")
                raise ModelServerUnavailable(self._failure[1], FAILED_START_PAUSE_S)
            raise ModelServerUnavailable("The model server is starting; try again in a few seconds.")
        return self._url

    def _read_port_file(self) -> str | None:
        # A stat and a read of a few bytes on local disk: cheaper than a hop to the thread pool.
        try:
            port = int(self._port_file.read_text().strip())
        except (OSError, ValueError, AttributeError):
            return None  # not written yet (the server writes it atomically once it listens)
        self._port_file.unlink(missing_ok=True)
        self._listened, self._failure = True, None
        return f"http://127.0.0.1:{port}"

    async def wait_until_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the server if needed and wait (without blocking the loop) until it listens."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self._address()
                return
            except ModelServerUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after a grace period) and this loop's connections."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        await run_in_threadpool(self._stop)

    def _stop(self) -> None:
        with self._lock:
            process, self._process, self._url, self._ready_bases = self._process, None, None, set()
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._port_file:
            self._port_file.unlink(missing_ok=True)
        log.info("model server pid %s stopped", process.pid)

    # -- HTTP -------------------------------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = httpx.AsyncClient(trust_env=False)  # never through a proxy
        return client

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self._secret}"}

    def _lost(self, exc: Exception) -> ModelServerUnavailable:
        """What a broken connection means: a dead process restarts on the next call; a live one is just busy."""
        died = self._reap_if_dead()
        if died:
            return ModelServerUnavailable(f"The model server stopped ({died}); it is restarting, try again shortly.")
        return ModelServerUnavailable(f"The model server did not answer ({type(exc).__name__}); try again shortly.")

    @staticmethod
    def _error_text(response: httpx.Response) -> str:
        try:
            return str(response.json().get("error") or response.text)[:500]
        except (ValueError, AttributeError):
            return response.text[:500]

    def _checked(self, response: httpx.Response) -> dict:
        if response.status_code == 200:
            return response.json()
        message = self._error_text(response)
        if response.status_code == 400:
            raise ModelServerRejected(message)
        if response.status_code == 503:
            raise ModelServerUnavailable(message, 30)
        raise ModelServerUnavailable(f"The model server answered {response.status_code}: {message}")

    async def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> dict:
        url = await self._address()
        try:
            response = await self._http().request(method, url + path, json=body, headers=self._headers(),
                                                  timeout=timeout)
        except httpx.TimeoutException:
            raise ModelServerUnavailable(f"The model server did not answer within {timeout:g} s.") from None
        except httpx.TransportError as exc:
            raise self._lost(exc) from None
        return self._checked(response)

    # -- bases ------------------------------------------------------------------------------------------------------
    async def _ensure_base(self, base: str) -> None:
        """Raise a 503 while `base` is not loaded yet, asking the server to load it in the background."""
        await self._address()
        if base in self._ready_bases:
            return
        state = (await self._call("GET", "/health"))["bases"].get(base) or {}
        if state.get("state") == "ready":
            self._ready_bases.add(base)
            return
        if state.get("state") == "failed":
            raise ModelServerUnavailable(f"The base model {base!r} could not be loaded: {state.get('error')}", 60)
        if not state:
            self._warm(base)
        raise ModelServerUnavailable(f"The base model {base!r} is loading; try again in a few seconds.")

    def _warm(self, base: str) -> None:
        """Ask for one token from `base` in a thread of its own: the server loads the base for it, and the
        caller's event loop (which may close first, as a test client's does) has nothing to wait for."""
        if base in self._warming:
            return
        self._warming.add(base)
        url, headers = self._url, self._headers()
        body = Generation(base, None, None, [{"role": "user", "content": "Hello"}], 1).body(stream=False)

        def warm() -> None:
            try:
                httpx.post(url + "/generate", json=body, headers=headers, timeout=START_TIMEOUT_S, trust_env=False)
            except httpx.HTTPError as exc:
                log.warning("loading base %s: %s", base, exc)
            finally:
                self._warming.discard(base)

        threading.Thread(target=warm, name=f"load-{base}", daemon=True).start()

    # -- the interface the app uses ---------------------------------------------------------------------------------
    async def generate(self, g: Generation) -> dict:
        """One completion: {request_id, text, finish_reason, prompt_tokens, completion_tokens, batch, queue_s, total_s}."""
        await self._ensure_base(g.base)
        return await self._call("POST", "/generate", g.body(stream=False), self.settings.serving_request_timeout_s)

    async def stream(self, g: Generation) -> AsyncIterator[dict]:
        """The server's NDJSON events as dicts: `delta`s, then `done` (or `error`). A failure before the first
        event raises (ModelServerUnavailable, a 503); a failure after it arrives as an `error` event."""
        await self._ensure_base(g.base)
        url = await self._address()
        sent_any = False
        try:
            async with self._http().stream("POST", url + "/generate", json=g.body(stream=True),
                                           headers=self._headers(),
                                           timeout=self.settings.serving_request_timeout_s) as response:
                if response.status_code != 200:
                    await response.aread()
                    self._checked(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        sent_any = True
                        yield json.loads(line)
        except (httpx.TransportError, ModelServerUnavailable) as exc:
            failure = exc if isinstance(exc, ModelServerUnavailable) else (
                ModelServerUnavailable(f"The model server did not answer within "
                                       f"{self.settings.serving_request_timeout_s:g} s.")
                if isinstance(exc, httpx.TimeoutException) else self._lost(exc))
            if not sent_any:
                raise failure from None
            yield {"type": "error", "message": failure.message}

    async def unload(self, adapter_id: str) -> None:
        """Drop an adapter from every base's LRU; nothing to do (and nothing started) when no server runs."""
        if self._reap_if_dead() or self._process is None or self._url is None:
            return
        try:
            await self._call("POST", "/unload", {"adapter_id": adapter_id})
        except ModelServerUnavailable as exc:  # a server that is gone holds no adapter
            log.info("unloading %s: %s", adapter_id, exc.message)

    async def batches(self, limit: int = 20) -> list[dict]:
        """The latest batches, newest first; empty while no server runs (showing them starts nothing)."""
        if self._reap_if_dead() or self._process is None or self._url is None:
            return []
        try:
            return (await self._call("GET", f"/batches?limit={int(limit)}"))["batches"]
        except ModelServerUnavailable:
            return []

    async def health(self) -> dict:
        """The server's /health, or {"status": "stopped" | "starting"} without starting anything."""
        self._reap_if_dead()
        if self._process is None:
            return {"status": "stopped", "bases": {}, "max_adapters": self.settings.model_server_max_adapters}
        if self._url is None:
            self._url = self._read_port_file()
        if self._url is None:
            return {"status": "starting", "pid": self._process.pid, "bases": {},
                    "max_adapters": self.settings.model_server_max_adapters}
        return await self._call("GET", "/health")


def get_model_client(app) -> ModelServerClient:
    """The app's model client, made on first use: the local model server, or Ray Serve when COURSE_SERVING=ray."""
    client = getattr(app.state, "model_client", None)
    if client is None:
        settings = app.state.settings
        if getattr(settings, "serving", "local") == "ray":
            from app.serving.ray_client import RayServeClient  # only a Ray deployment needs it

            client = RayServeClient(settings)
        else:
            client = ModelServerClient(settings)
        app.state.model_client = client
    return client


async def start_with_app(app) -> None:
    """At app start: start the model server now when the settings say so (it then loads in the background)."""
    if app.state.settings.model_server_start == "with_server":
        client = get_model_client(app)
        if hasattr(client, "start"):
            await client.start()


async def stop_with_app(app) -> None:
    """At app shutdown: stop the model server this app started, if any."""
    client = getattr(app.state, "model_client", None)
    if client is not None and hasattr(client, "close"):
        await client.close()

