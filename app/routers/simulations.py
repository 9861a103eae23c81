"""Simulation endpoints: the catalogue, JSON runs, and the slider fragment (or the chapter page at a state)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

import simulations
from app.deps import CourseDep
from app.chapter_page import render_chapter
from app.simulation_fragments import fragment_response
from app.simulation_measured import simulation_for_request
from app.simulation_runs import api_body_async, describe, get_module

router = APIRouter(tags=["simulations"])


@router.get("/api/simulations")
def read_simulations() -> list[dict]:
    """Every simulation with its chapter, title and the JSON Schema of its parameters."""
    return [describe(module) for module in simulations.REGISTRY.values()]


# Both handlers are async: a parameter set seen before is served from the run cache on the event loop,
# with no thread-pool hop; only a new one is simulated in the pool (see app.simulation_runs).
@router.get("/api/simulations/{name}", response_class=Response,
            responses={200: {"content": {"application/json": {}},
                             "description": "`{params, result, figure}` for the query's parameters"}})
async def read_simulation(name: str, request: Request) -> Response:
    """Run one simulation with the query's parameters: `{params, result, figure}` (plus `result.measured`
    with `?run=` or `?sweep=` of yours)."""
    run = await simulation_for_request(request, name, dict(request.query_params))
    return Response(await api_body_async(run), media_type="application/json")


@router.get("/simulations/{name}", response_class=HTMLResponse)
async def read_simulation_page(name: str, request: Request, course: CourseDep):
    """The chart fragment for htmx; otherwise the simulation's chapter at this state (a shareable link)."""
    query = dict(request.query_params)
    if request.headers.get("HX-Request"):
        return await fragment_response(request, name, query)
    await simulation_for_request(request, name, query)  # a bad value or reference: refused before the page
    chapter = course.chapters[get_module(name).CHAPTER]
    # The whole page reads and writes the database (visit, answers): that stays off the event loop.
    return await run_in_threadpool(render_chapter, request, chapter, {name: query})
