"""Scale-out serving (COURSE_SERVING=ray): the serving engine as a Ray Serve deployment with model multiplexing.

Each replica holds one ServingEngine. A request's multiplexed model id is its adapter id (the base name when it asks
for the base alone), so Ray's router sends an adapter's requests to a replica that already holds that adapter, and
Serve's per-replica LRU (`max_num_models_per_replica`) decides which adapters a replica keeps. Replicas answer the
local model server's HTTP protocol (/health, /generate, /unload, /batches) behind the same bearer secret.
`deploy()` (`course-lab serve-ray`) puts the application on a running cluster.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ray import serve

from labs import LabError
from labs.job_env import remote_job_variables
from labs.serving import ray_asgi
from labs.serving.requests import BaseUnavailable, GenerateRequest, RequestError, parse_request
from labs.serving.server import MAX_BODY_BYTES, SECRET_ENV  # a replica reads the secret as the local server does

DEPLOY_SECRET_ENV = "COURSE_SERVE_SECRET"  # what `deploy` reads: the same variable as the web app's setting
APP_NAME = "course-serving"
# Requests one replica takes at once: enough waiting rows for the engine to batch one adapter's requests together.
MAX_ONGOING_REQUESTS = 32
_END = object()
logger = logging.getLogger("ray.serve")


def multiplexed_model_id(base: str, adapter_id: str | None) -> str:
    """The id Ray routes by: the adapter's, or the base's for a request without one."""
    return adapter_id or base


class _Held:
    """What Serve's multiplexer caches for one model id. Serve calls `__del__` when its LRU evicts the id, and the
    adapter leaves the engine then; a base stays (every other id on the replica uses it)."""

    def __init__(self, engine, base: str, adapter_id: str | None, adapter_path: str | None):
        self.engine, self.base, self.adapter_id, self.adapter_path = engine, base, adapter_id, adapter_path
        self.released = True  # until load() succeeds, and again after an eviction or an /unload

    def load(self) -> None:
        self.engine.ensure_base(self.base)
        if self.adapter_id:
            self.engine.ensure_adapter(self.base, self.adapter_id, self.adapter_path)
        self.released = False

    def __del__(self):
        # Also reached when the object is garbage-collected after an eviction: `released` makes that a no-op, so an
        # adapter loaded again under a newer object is never unloaded by an old one.
        if self.adapter_id and not self.released:
            self.released = True
            self.engine.unload_adapter(self.adapter_id)


@serve.deployment(max_ongoing_requests=MAX_ONGOING_REQUESTS)
@serve.ingress()
class AdapterServer:
    """One replica: an engine, Serve's multiplexed LRU of the model ids it holds, and the HTTP protocol."""

    def __init__(self, max_adapters: int = 8, preload: tuple[str, ...] = ()):
        from labs.serving.engine import ServingEngine  # torch loads here, in the replica

        self.secret = os.environ.get(SECRET_ENV, "")
        if not self.secret:
            raise RuntimeError(f"{SECRET_ENV} is not set in the replica's environment")
        self.engine = ServingEngine(max_adapters=max_adapters)
        # Engine calls block; each waiting request holds a thread so that the engine can batch them.
        self.pool = ThreadPoolExecutor(max_workers=MAX_ONGOING_REQUESTS + 2, thread_name_prefix="engine")
        self.wanted: dict[str, tuple[str, str | None, str | None]] = {}  # model id -> (base, adapter id, path)
        self.held: dict[str, _Held] = {}

        async def load_model_for(model_id: str) -> _Held:  # a plain function: its limit comes from the arguments
            return await self._load(model_id)

        self.model = serve.multiplexed(max_num_models_per_replica=max_adapters)(load_model_for)
        for base in preload:
            self.engine.ensure_base(base)

    def __del__(self):  # the replica is stopping: waiting requests end with an error event
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()

    def __serve_build_asgi_app__(self):
        async def app(scope, receive, send):  # a plain coroutine function: uvicorn's lifespan takes it as ASGI 3
            await self.asgi(scope, receive, send)

        return app

    async def _run(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    async def _load(self, model_id: str) -> _Held:
        """Serve's multiplexer calls this on a miss, one load at a time, after evicting its LRU id if full."""
        held = _Held(self.engine, *self.wanted[model_id])
        await self._run(held.load)
        self.held[model_id] = held
        return held

    async def _hold(self, request: GenerateRequest) -> None:
        model_id = multiplexed_model_id(request.base, request.adapter_id)
        routed = serve.get_multiplexed_model_id()
        if routed and routed != model_id:
            raise RequestError(f"the serve_multiplexed_model_id header says {routed!r} but the request is for "
                               f"{model_id!r}")
        self.wanted[model_id] = (request.base, request.adapter_id, request.adapter_path)
        held = await self.model(model_id)
        if held.released:  # unloaded through /unload since Serve cached it
            await self._run(held.load)

    async def asgi(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await ray_asgi.lifespan(receive, send)
        expected = f"Bearer {self.secret}".encode()
        if not hmac.compare_digest(ray_asgi.header(scope, "authorization").encode("latin-1"), expected):
            return await ray_asgi.send_json(send, 401, {"error": "missing or wrong bearer secret"})
        route = (scope["method"], scope["path"])
        try:
            if route == ("GET", "/health"):
                await ray_asgi.send_json(send, 200, self.health())
            elif route == ("POST", "/generate"):
                await self.generate(await _json_body(receive), send)
            elif route == ("POST", "/unload"):
                await ray_asgi.send_json(send, 200, await self.unload(await _json_body(receive)))
            elif route == ("GET", "/batches"):
                limit = _limit(ray_asgi.query(scope, "limit"))
                await ray_asgi.send_json(send, 200, {"batches": self.engine.recent_batches(limit)})
            else:
                await ray_asgi.send_json(send, 404, {"error": f"no route {scope['method']} {scope['path']}"})
        except ray_asgi.ClientGone:
            return
        except RequestError as bad:
            await ray_asgi.send_json(send, 400, {"error": str(bad)})
        except BaseUnavailable as down:
            await ray_asgi.send_json(send, 503, {"error": str(down)})
        except Exception as error:  # a message, never a traceback, to the caller; the traceback goes to the log
            logger.exception("%s %s failed", scope["method"], scope["path"])
            await ray_asgi.send_json(send, 500, {"error": f"the model server failed: {type(error).__name__}: {error}"})

    def health(self) -> dict:
        return {"status": "ready", "pid": os.getpid(), **self.engine.health(),
                "replica": serve.get_replica_context().replica_id.unique_id,
                "multiplexed": [model_id for model_id, held in self.held.items() if not held.released]}

    async def generate(self, body: dict, send) -> None:
        request = parse_request(body)
        await self._hold(request)
        if body.get("stream"):
            # Queued before the 200 goes out, so that a request the engine refuses still gets its 400 or 503.
            events = await self._run(self.engine.generate_stream, request)
            await ray_asgi.send_ndjson(send, self._pumped(events, request.request_id))
        else:
            result = await self._run(self.engine.generate, request)
            await ray_asgi.send_json(send, 200, result.to_json())

    async def _pumped(self, events, request_id: str):
        """The engine's event iterator, advanced by a pool thread. When the client goes away, that thread closes
        the iterator at its next event, which stops the request's row."""
        loop, queue, stop = asyncio.get_running_loop(), asyncio.Queue(), threading.Event()

        def pump():
            try:
                for event in events:
                    loop.call_soon_threadsafe(queue.put_nowait, event)
                    if stop.is_set():
                        break
            except Exception as error:  # the 200 has gone out: the client learns of it in an event
                logger.exception("streaming %s failed", request_id)
                loop.call_soon_threadsafe(queue.put_nowait, {"type": "error", "message": f"generation failed: {error}"})
            finally:
                events.close()
                loop.call_soon_threadsafe(queue.put_nowait, _END)

        self.pool.submit(pump)
        try:
            while (event := await queue.get()) is not _END:
                yield event
        finally:
            stop.set()

    async def unload(self, body: dict) -> dict:
        adapter_id = body.get("adapter_id")
        if not isinstance(adapter_id, str) or not adapter_id:
            raise RequestError('the body should be {"adapter_id": "..."}')
        held = self.held.get(adapter_id)
        if held is not None:
            held.released = True
        return {"unloaded": bool(await self._run(self.engine.unload_adapter, adapter_id))}


async def _json_body(receive) -> dict:
    try:
        body = json.loads(await ray_asgi.read_body(receive, MAX_BODY_BYTES) or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the body should be a JSON object")
    return body


def _limit(value: str | None) -> int:
    """?limit= of /batches, bounded as the local model server bounds it."""
    if value is None:
        return 20
    if not value.isdigit() or not 1 <= int(value) <= 200:
        raise RequestError(f"limit should be an integer from 1 to 200, got {value!r}")
    return int(value)


def deploy(address: str, http_host: str = "127.0.0.1", http_port: int = 8100, max_adapters: int = 8,
           replicas: int = 1, num_cpus: float = 1, num_gpus: float = 0, preload: tuple[str, ...] = ()) -> str:
    """Deploy (or update) the application on the Ray cluster at `address` and return its HTTP address.

    The secret comes from this process's COURSE_SERVE_SECRET (the web app reads the same variable) and reaches the
    replicas in their runtime environment, with the allow-listed variables a lab job gets (data dir, hub off,
    threads), never the rest.
    The application outlives this call: Serve's controller keeps it on the cluster.
    """
    import ray

    secret = os.environ.get(DEPLOY_SECRET_ENV)
    if not secret:
        raise LabError(f"set {DEPLOY_SECRET_ENV}: the replicas answer only requests that carry it")
    env_vars = {**remote_job_variables(os.environ), SECRET_ENV: secret}
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        serve.start(http_options={"host": http_host, "port": http_port})
        app = AdapterServer.options(
            num_replicas=replicas,
            ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus, "runtime_env": {"env_vars": env_vars}},
        ).bind(max_adapters, tuple(preload))
        serve.run(app, name=APP_NAME, route_prefix="/")
    finally:
        ray.shutdown()
    return f"http://{http_host}:{http_port}"
