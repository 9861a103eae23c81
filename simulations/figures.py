"""The shared look of the simulation charts: one palette and one base layout for every figure().

Plain colours rather than a Plotly template, so the spec stays small and renders the same with any
plotly.js bundle. Holds no maths; each simulation builds its own traces.
"""

from typing import Any

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PROMPTING = "#D55E00"  # vermillion: anything that is "prompt the base model"
FINE_TUNED = "#009E73"  # bluish green: anything that is "fine-tuned"
ACCENT = "#0072B2"  # blue: a third series, or the user's current choice
MUTED = "#999999"  # grey: references, thresholds, a balanced baseline
WARNING = "#E69F00"  # orange: limits such as a GPU's memory
EXTRA = ("#56B4E9", "#CC79A7", "#F0E442", "#000000")  # further series, in order

_AXIS = {"gridcolor": "#e6e6e6", "zerolinecolor": "#cccccc", "linecolor": "#999999", "automargin": True}


def axis(title: str, **extra: Any) -> dict[str, Any]:
    """An axis with the shared grid colours and a title."""
    return {**_AXIS, "title": {"text": title}, **extra}


def base_layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    """A responsive layout: no fixed width, horizontal legend under the plot, unified hover."""
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.02, "xanchor": "left"},
        "autosize": True,
        "height": 460,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 60},
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 13, "color": "#222222"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "x unified",
        # Under the plot, so it never collides with the title however narrow the screen.
        "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top", "bgcolor": "rgba(255,255,255,0)"},
        "xaxis": axis(x_title),
        "yaxis": axis(y_title),
    }
    layout.update(extra)
    return layout


def vertical_line(x: float, color: str = MUTED, dash: str = "dot", yref: str = "paper") -> dict[str, Any]:
    """A full-height vertical line shape at `x` (for "you are here" and crossover markers)."""
    return {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": "x", "yref": yref,
            "line": {"color": color, "width": 1.5, "dash": dash}}


def horizontal_line(y: float, color: str = MUTED, dash: str = "dash", xref: str = "paper") -> dict[str, Any]:
    """A horizontal line shape at `y` across the plot (or across one subplot with xref="x domain")."""
    return {"type": "line", "x0": 0, "x1": 1, "y0": y, "y1": y, "xref": xref, "yref": "y",
            "line": {"color": color, "width": 1.5, "dash": dash}}
