"""The slider fragment (`_sim_output.html`: the headline and the figure's JSON) served from memory: rendered and
compressed once per simulation state and encoding, since a model's output is a pure function of its parameters.

A state is kept here from the second time it is rendered (as in the shared run cache); a learner's own measurement
drawn in, and lora-rank on the real ΔW (read from the data dir, which a rebuild changes), are rendered for each
request as before.
"""

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.admission import Doorkeeper
from app.compression import MIN_BYTES, choose_encoding, compress
from app.page_cache import PageCache
from app.simulation_measured import is_real, simulation_for_request, split_reference
from app.simulation_runs import RUNS, SimulationRun, parse_query

# Encoded fragments kept, in bytes: one is the figure's JSON plus ~0.5 kB, compressed to a fifth to a half
# (5-120 kB raw), so 8 MB holds the few hundred states a class visits in an encoding or two.
CACHED_BYTES = 8 * 1024 * 1024
TEMPLATE = "_sim_output.html"

Key = tuple[str, Any, str | None]  # (simulation, Params, the best encoding the client accepts, or None)
Body = tuple[bytes, str | None]  # the body and its Content-Encoding (None: sent as it is)


class FragmentCache(PageCache):
    """Fragment bodies by (name, params, encoding), counted by their bytes, the least recently used evicted first;
    kept from the second time one is made (`app.admission`), and a body larger than the whole budget is not kept."""

    def __init__(self, max_bytes: int = CACHED_BYTES):
        super().__init__(max_bytes, sizeof=lambda body: len(body[0]))
        self._admission = Doorkeeper()

    def put(self, key: Key, body: Body) -> None:
        if len(body[0]) <= self.max_bytes and self._admission.seen_before(key):
            super().put(key, body)

    def clear(self) -> None:
        super().clear()
        self._admission.clear()


FRAGMENTS = FragmentCache()


def render_fragment(templates, run: SimulationRun) -> bytes:
    """The fragment's HTML, as the chapter page includes it (it needs nothing of the request)."""
    return templates.get_template(TEMPLATE).render(run=run).encode()


def encoded(body: bytes, encoding: str | None) -> Body:
    """`body` in `encoding` when it gains from it (as the compression middleware decides); the encoding used."""
    if encoding is None or len(body) < MIN_BYTES:
        return body, None
    return compress(encoding, body), encoding


def _make(templates, name: str, params: Any, encoding: str | None) -> Body:
    """Simulate (or find) the state, render and encode its fragment, and keep it (in the thread pool)."""
    run = RUNS.get(name, params) or RUNS.compute(name, params)
    body = encoded(render_fragment(templates, run), encoding)
    FRAGMENTS.put((name, params, encoding), body)
    return body


async def fragment_response(request: Request, name: str, query: dict[str, str]) -> Response:
    """The slider fragment for this state: from memory on the event loop when this worker served the state in
    this encoding before, otherwise simulated, rendered and encoded in the thread pool (once)."""
    plain_query, reference = split_reference(name, query)
    params = parse_query(name, plain_query)
    if reference is not None or is_real(name, params):
        run = await simulation_for_request(request, name, query)
        return request.app.state.templates.TemplateResponse(request, TEMPLATE, {"run": run})
    encoding = choose_encoding(request.headers.get("accept-encoding", ""))
    found = FRAGMENTS.get((name, params, encoding))
    if found is None:
        found = await run_in_threadpool(_make, request.app.state.templates, name, params, encoding)
    body, content_encoding = found
    # Already in the client's encoding, so the compression middleware passes it through untouched.
    headers = {"Vary": "Accept-Encoding"} | ({"Content-Encoding": content_encoding} if content_encoding else {})
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)
