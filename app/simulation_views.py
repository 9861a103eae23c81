"""How simulations appear on a page: the widget rendered into its chapter placeholder, and the
small formatting helpers its template uses (slider values, log-scale steps, the model's docstring).
"""

import inspect
import math
from functools import lru_cache
from types import ModuleType

from markdown_it import MarkdownIt
from markupsafe import Markup

from app.content import Chapter, mount_marker
from app.simulation_measured import simulation_for_page
from app.simulation_runs import SimulationRun
from simulations.params import params_schema

_DOC_MARKDOWN = MarkdownIt("commonmark", {"html": False, "typographer": True})


@lru_cache(maxsize=32)
def doc_html(module: ModuleType) -> str:
    """The module docstring (model, assumptions, sources) as HTML for "How this simulation works"."""
    return _DOC_MARKDOWN.render(inspect.cleandoc(module.__doc__ or ""))


def format_value(value: float, prop: dict) -> str:
    unit = prop.get("x-unit") or ""
    if prop.get("type") == "integer" or float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if unit == "$":
        return f"${text}"
    return f"{text} {unit}".strip()


def log_steps(prop: dict, current: float) -> list[float]:
    """1-2-5 steps across a log-scale field's range (plus the current value), as choices."""
    low, high = prop["minimum"], prop["maximum"]
    steps = {current}
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = float(f"{mantissa}e{exponent}")
            if low <= value <= high:
                steps.add(int(value) if prop["type"] == "integer" else value)
    return sorted(steps)


def widget_context(run: SimulationRun) -> dict:
    return {"run": run, "schema": params_schema(run.module.Params)}


def install_template_helpers(templates) -> None:
    templates.env.globals.update(doc_html=doc_html, format_value=format_value, log_steps=log_steps)


def mount_simulations(templates, request, chapter: Chapter, states: dict[str, dict[str, str]]) -> Markup:
    """The chapter's HTML with each simulation placeholder filled by its widget.

    `states` maps a simulation name to the query it should show (the URL's, for a shared link);
    others show their defaults.
    """
    html = chapter.html
    for ref in chapter.meta.simulations:
        run = simulation_for_page(request, ref.name, states.get(ref.name, {}))
        widget = templates.get_template("_simulation.html").render(widget_context(run), request=request)
        html = html.replace(mount_marker("simulation", ref.name), widget)
    return Markup(html)
