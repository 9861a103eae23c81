"""The app's client for adapters served on Ray Serve (COURSE_SERVING=ray): the model server's HTTP protocol at
COURSE_SERVE_ADDRESS, every request naming its adapter (or, without one, its base) as Serve's multiplexed model id,
so that Ray routes it to a replica that already holds that adapter.

The deployment runs apart from the web app (`course-lab serve-ray`): nothing here starts a process.
"""

import logging
from collections.abc import AsyncIterator

import httpx

from app.serving.model_server import Generation, ModelServerRejected, ModelServerUnavailable
from app.serving.ndjson import ndjson_events
from app.settings import Settings

log = logging.getLogger("course.serving")
# The header Ray Serve's HTTP proxy routes by (ray.serve._private.constants.SERVE_MULTIPLEXED_MODEL_ID).
MULTIPLEXED_HEADER = "serve_multiplexed_model_id"
RETRY_AFTER_S = 30


def multiplexed_model_id(base: str, adapter_id: str | None) -> str:
    """The same rule as the deployment's (labs.serving.ray_deployment): the adapter's id, else the base's name."""
    return adapter_id or base


class RayServeClient:
    """Same methods as ModelServerClient. Nothing to start or stop: the Ray cluster owns the deployment."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.address = settings.serve_address.rstrip("/")

    @staticmethod
    def _http() -> httpx.AsyncClient:
        """A client per call: any event loop may call (test clients each run their own), and a connection to
        Serve's proxy costs far less than the generation behind it. Never through an HTTP proxy."""
        return httpx.AsyncClient(trust_env=False)

    def _headers(self, model_id: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.settings.serve_secret}"}
        if model_id:
            headers[MULTIPLEXED_HEADER] = model_id
        return headers

    def _unreachable(self, exc: Exception, timeout: float) -> ModelServerUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            return ModelServerUnavailable(f"Ray Serve did not answer within {timeout:g} s.", RETRY_AFTER_S)
        return ModelServerUnavailable(f"Ray Serve at {self.address} did not answer ({type(exc).__name__}); "
                                      f"is the deployment running?", RETRY_AFTER_S)

    def _checked(self, response: httpx.Response) -> dict:
        if response.status_code == 200:
            return response.json()
        try:
            message = str(response.json().get("error") or response.text)[:500]
        except (ValueError, AttributeError):  # Serve's own errors (no route, replica died) are plain text
            message = response.text[:500]
        if response.status_code == 400:
            raise ModelServerRejected(message)
        if response.status_code == 401:
            log.error("Ray Serve refused the secret: COURSE_SERVE_SECRET differs from the deployment's")
            raise ModelServerUnavailable("The model server refused this course server's secret; an administrator "
                                         "must give both the same COURSE_SERVE_SECRET.", RETRY_AFTER_S)
        if response.status_code == 503:
            raise ModelServerUnavailable(message, RETRY_AFTER_S)
        raise ModelServerUnavailable(f"Ray Serve answered {response.status_code}: {message}", RETRY_AFTER_S)

    async def _call(self, method: str, path: str, body: dict | None = None, model_id: str | None = None,
                    timeout: float = 30) -> dict:
        try:
            async with self._http() as http:
                response = await http.request(method, self.address + path, json=body,
                                              headers=self._headers(model_id), timeout=timeout)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, timeout) from None
        return self._checked(response)

    # -- the interface the app uses (as ModelServerClient) ------------------------------------------------------------
    async def generate(self, g: Generation) -> dict:
        """One completion; a base loads inside the replica while this request waits (up to the request timeout)."""
        return await self._call("POST", "/generate", g.body(stream=False), multiplexed_model_id(g.base, g.adapter_id),
                                self.settings.serving_request_timeout_s)

    async def stream(self, g: Generation) -> AsyncIterator[dict]:
        """The deployment's NDJSON events as dicts. A failure before the first event raises (a 503 or a 400);
        one after it arrives as an `error` event."""
        timeout = self.settings.serving_request_timeout_s
        sent_any = False
        try:
            async with self._http() as http:
                async for event in ndjson_events(http, self.address + "/generate", g.body(stream=True),
                                                 self._headers(multiplexed_model_id(g.base, g.adapter_id)), timeout,
                                                 self._checked):
                    sent_any = True
                    yield event
        except (httpx.TransportError, ModelServerUnavailable) as exc:
            failure = exc if isinstance(exc, ModelServerUnavailable) else self._unreachable(exc, timeout)
            if not sent_any:
                raise failure from None
            yield {"type": "error", "message": failure.message}

    async def unload(self, adapter_id: str) -> None:
        """Drop an adapter; routed by its id, so the replica that holds it gets the request. A deployment that
        cannot be reached is logged, not raised: deleting a run must not fail because serving is down."""
        try:
            await self._call("POST", "/unload", {"adapter_id": adapter_id}, model_id=adapter_id)
        except (ModelServerUnavailable, ModelServerRejected) as exc:
            log.warning("unloading %s from Ray Serve: %s", adapter_id, exc)

    async def batches(self, limit: int = 20) -> list[dict]:
        """The latest batches of the replica that answers, newest first; empty while the deployment is unreachable."""
        try:
            return (await self._call("GET", f"/batches?limit={int(limit)}"))["batches"]
        except ModelServerUnavailable:
            return []

    async def health(self) -> dict:
        """/health of the replica that answers, or {"status": "unavailable", "error": ...} without raising."""
        try:
            return await self._call("GET", "/health")
        except ModelServerUnavailable as exc:
            return {"status": "unavailable", "error": exc.message, "bases": {},
                    "max_adapters": self.settings.model_server_max_adapters}
