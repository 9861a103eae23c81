"""Simulation endpoints: the catalogue, JSON runs, and the slider fragment (or the chapter page at a state)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import simulations
from app.deps import CourseDep
from app.routers.pages import render_chapter
from app.simulation_runs import describe, get_module, run_simulation

router = APIRouter(tags=["simulations"])


@router.get("/api/simulations")
def read_simulations() -> list[dict]:
    """Every simulation with its chapter, title and the JSON Schema of its parameters."""
    return [describe(module) for module in simulations.REGISTRY.values()]


@router.get("/api/simulations/{name}")
def read_simulation(name: str, request: Request) -> dict:
    """Run one simulation with the query's parameters: `{params, result, figure}`."""
    return run_simulation(name, dict(request.query_params)).as_json()


@router.get("/simulations/{name}", response_class=HTMLResponse)
def read_simulation_page(name: str, request: Request, course: CourseDep):
    """The chart fragment for htmx; otherwise the simulation's chapter at this state (a shareable link)."""
    query = dict(request.query_params)
    run = run_simulation(name, query)
    if request.headers.get("HX-Request"):
        return request.app.state.templates.TemplateResponse(request, "_sim_output.html", {"run": run})
    chapter = course.chapters[get_module(name).CHAPTER]
    return render_chapter(request, chapter, states={name: query})
