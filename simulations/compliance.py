"""Prompt compliance vs fine-tuned compliance: why prompting plateaus and fine-tuning keeps improving.

A response "complies" when it meets every hard rule of the task at once. We model a task as a number
of independent rules (a loose task has one, such as "be concise"; the legal firm's format has four:
numbered action items, formal British English, the case-number format and the closing disclaimer).
Each rule slips with a small probability on every response, so the compliance rate is the product
(1 - slip) ** rules. That is why narrow, many-rule formats are where prompting hurts most.

Prompting: the x axis counts examples. For prompting they are few-shot examples pasted into the
prompt. Each one helps less than the last, and the slip rate levels off at a floor set by the model's
prior (it saw billions of tokens of casual English; your prompt is a thin layer on top). With the
default settings that floor is the chapter's story: a detailed prompt with five examples reaches
about 92% compliance, an 8% failure rate, and no number of further examples removes it. Longer and
more complex user queries raise the slip rate: the model "forgets the case number format".

Fine-tuning: here the examples are training examples. The slip rate falls with the number of
examples n as slip(n) = floor + (zero_shot - floor) * n0 / (n0 + n), the inverse-power shape typical
of learning curves, towards a much lower floor (label noise and genuinely ambiguous inputs remain).
n0 is 20 examples for queries of middling complexity, more for complex ones. With about 50 examples
fine-tuning catches up with the best prompt, and it keeps improving after that. The 95% line is the
chapter's rule of thumb: below it, for a critical behaviour, fine-tune.

Uncertainty bands show the 90% range you would measure on a 200-prompt test set (binomial sampling
error); the fine-tuning band adds run-to-run spread that shrinks as the training set grows.

The curves are an illustrative model, not a measurement: the rates are chosen to match the spec's
legal-firm story (92% with prompting) and its guidance (50-200 examples for format and style). The
lab in this chapter measures a real model, and draws its result over this curve.

Measured points. A learner's sweep (the same recipe trained at several numbers of examples) arrives as
plain data: one `measured_point()` per finished run, its compliance with a 90% Wilson interval from the
held-out set size (50 prompts give about ±10 points around 80%). The figure draws them as "your runs" and
the headline says where the model's fine-tuning curve falls inside each interval and where it does not.
"""

from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import bounded, choice

NAME = "compliance"
CHAPTER = 0
TITLE = "Prompt compliance vs fine-tuned compliance"

STRICTNESS_RULES = {"loose": 1, "moderate": 2, "strict": 4}
TARGET = 0.95  # the chapter's threshold for a critical behaviour
EVAL_SET_SIZE = 200  # prompts in the imagined test set behind the uncertainty bands
_Z90 = 1.645  # two-sided 90% normal quantile

# Per-rule slip rates at complexity 3. The prompt floor makes a four-rule task comply 92% of the time.
_PROMPT_FLOOR_SLIP = 1.0 - 0.92 ** (1 / 4)
_ZERO_SHOT_SLIP = 0.06
_FINE_TUNED_FLOOR_SLIP = 0.002
_FEW_SHOT_SCALE = 3.0  # examples in the prompt for two thirds of the few-shot gain
_LEARNING_SCALE = 20.0  # n0: training examples that halve the gap to the fine-tuned floor
_RUN_SPREAD = 0.04  # run-to-run spread of a fine-tune on very little data


@dataclass(frozen=True)
class Params:
    examples: int = bounded(0, ge=0, le=1000, step=10, description=(
        "Examples you have: few-shot examples in the prompt, or training examples for fine-tuning."),
        title="Fine-tune examples")
    prompt_complexity: int = bounded(3, ge=1, le=5, step=1, description=(
        "How long and tangled the incoming queries are: 1 = short routine questions, 5 = long multi-part ones."))
    strictness: str = choice("strict", tuple(STRICTNESS_RULES), description=(
        "How narrow the required output is, counted in hard rules every response must follow."),
        labels={"loose": "Loose (1 rule: be concise)", "moderate": "Moderate (2 rules: JSON with fixed keys)",
                "strict": "Strict (4 rules: the legal firm's format)"}, title="Task strictness")


@dataclass(frozen=True)
class Result:
    examples: np.ndarray  # (n,) x axis
    prompting: np.ndarray  # (n,) compliance rate 0-1
    prompting_low: np.ndarray
    prompting_high: np.ndarray
    fine_tuned: np.ndarray
    fine_tuned_low: np.ndarray
    fine_tuned_high: np.ndarray
    current_examples: int
    current_prompting: float
    current_fine_tuned: float
    prompting_plateau: float
    examples_to_target: int | None  # first x where fine-tuning reaches 95%, None if never on the axis
    target: float


def simulate(params: Params) -> Result:
    rules = STRICTNESS_RULES[params.strictness]
    # Complex queries make every rule slip more often, for prompting and fine-tuning alike.
    difficulty = 1.5 ** (params.prompt_complexity - 3)
    zero_shot = min(_ZERO_SHOT_SLIP * difficulty, 0.5)
    prompt_floor = min(_PROMPT_FLOOR_SLIP * difficulty, zero_shot)
    tuned_floor = _FINE_TUNED_FLOOR_SLIP * difficulty ** 0.5

    examples = np.arange(0, 1001, 5, dtype=float)

    def prompting_at(n: np.ndarray) -> np.ndarray:
        slip = prompt_floor + (zero_shot - prompt_floor) * np.exp(-n / _FEW_SHOT_SCALE)
        return (1.0 - slip) ** rules

    def fine_tuned_at(n: np.ndarray) -> np.ndarray:
        scale = _LEARNING_SCALE * difficulty  # harder inputs need more examples for the same gain
        slip = tuned_floor + (zero_shot - tuned_floor) * scale / (scale + n)
        return (1.0 - slip) ** rules

    prompting = prompting_at(examples)
    fine_tuned = fine_tuned_at(examples)
    sampling = np.sqrt(prompting * (1 - prompting) / EVAL_SET_SIZE)
    tuned_sampling = np.sqrt(fine_tuned * (1 - fine_tuned) / EVAL_SET_SIZE)
    # Run-to-run spread: largest for a handful of examples, shrinking with the data and with the failure rate.
    shrink = np.sqrt(_LEARNING_SCALE / (_LEARNING_SCALE + examples))
    run_spread = _RUN_SPREAD * (1 - fine_tuned) / (1 - fine_tuned[0]) * shrink
    tuned_spread = np.hypot(tuned_sampling, run_spread)
    reached = np.flatnonzero(fine_tuned >= TARGET)
    current = np.array([float(params.examples)])
    return Result(
        examples=examples,
        prompting=prompting,
        prompting_low=np.clip(prompting - _Z90 * sampling, 0, 1),
        prompting_high=np.clip(prompting + _Z90 * sampling, 0, 1),
        fine_tuned=fine_tuned,
        fine_tuned_low=np.clip(fine_tuned - _Z90 * tuned_spread, 0, 1),
        fine_tuned_high=np.clip(fine_tuned + _Z90 * tuned_spread, 0, 1),
        current_examples=params.examples,
        current_prompting=float(prompting_at(current)[0]),
        current_fine_tuned=float(fine_tuned_at(current)[0]),
        prompting_plateau=float((1.0 - prompt_floor) ** rules),
        examples_to_target=int(examples[reached[0]]) if reached.size else None,
        target=TARGET,
    )


def _band(x: list, low: np.ndarray, high: np.ndarray, color: str, name: str) -> list[dict]:
    # A filled band is two traces: the upper edge, then the lower edge filled up to it.
    edge = {"mode": "lines", "line": {"width": 0, "color": color}, "hoverinfo": "skip",
            "showlegend": False, "legendgroup": name}
    return [
        {"type": "scatter", "x": x, "y": (100 * high).tolist(), **edge},
        {"type": "scatter", "x": x, "y": (100 * low).tolist(), "fill": "tonexty",
         "fillcolor": _translucent(color), **edge},
    ]


def _translucent(hex_color: str) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.18)"


def measured_point(examples: int, compliance: float, n: int) -> dict:
    """One run's measurement: compliance (0-1) on `n` held-out prompts with its 90% Wilson interval."""
    n = max(1, int(n))
    centre = (compliance + _Z90 ** 2 / (2 * n)) / (1 + _Z90 ** 2 / n)
    half = _Z90 / (1 + _Z90 ** 2 / n) * np.sqrt(compliance * (1 - compliance) / n + _Z90 ** 2 / (4 * n * n))
    return {"examples": int(examples), "compliance": float(compliance),
            # the Wilson bounds hold the estimate in exact arithmetic; min/max keep it so after rounding
            "low": float(max(0.0, min(compliance, centre - half))),
            "high": float(min(1.0, max(compliance, centre + half)))}


def predicted_at(result: Result, examples: float) -> float:
    """The model's fine-tuning compliance at `examples`, read off its curve."""
    return float(np.interp(examples, result.examples, result.fine_tuned))


def _measured_trace(measured: list[dict]) -> dict:
    x = [m["examples"] for m in measured]
    y = [100 * m["compliance"] for m in measured]
    return {"type": "scatter", "mode": "markers", "name": "Your runs (measured, 90% interval)", "x": x, "y": y,
            "error_y": {"type": "data", "symmetric": False,
                        "array": [100 * (m["high"] - m["compliance"]) for m in measured],
                        "arrayminus": [100 * (m["compliance"] - m["low"]) for m in measured],
                        "color": figures.EXTRA[3], "thickness": 1.5, "width": 5},
            "marker": {"color": figures.EXTRA[3], "size": 9, "symbol": "diamond"},
            "hovertemplate": "%{x} examples: %{y:.0f}% measured"}


def figure(result: Result, measured: list[dict] | None = None) -> dict:
    x = result.examples.tolist()
    low = min(float(result.prompting_low.min()), float(result.fine_tuned_low.min()))
    data = [
        *_band(x, result.prompting_low, result.prompting_high, figures.PROMPTING, "Prompting"),
        {"type": "scatter", "mode": "lines", "name": "Prompting (few-shot examples in the prompt)",
         "legendgroup": "Prompting", "x": x, "y": (100 * result.prompting).tolist(),
         "line": {"color": figures.PROMPTING, "width": 2.5}, "hovertemplate": "%{y:.1f}%"},
        *_band(x, result.fine_tuned_low, result.fine_tuned_high, figures.FINE_TUNED, "Fine-tuning"),
        {"type": "scatter", "mode": "lines", "name": "Fine-tuning (training examples)",
         "legendgroup": "Fine-tuning", "x": x, "y": (100 * result.fine_tuned).tolist(),
         "line": {"color": figures.FINE_TUNED, "width": 2.5}, "hovertemplate": "%{y:.1f}%"},
        {"type": "scatter", "mode": "markers", "name": f"Your {result.current_examples} examples",
         "x": [result.current_examples, result.current_examples],
         "y": [100 * result.current_prompting, 100 * result.current_fine_tuned],
         "marker": {"color": figures.ACCENT, "size": 10, "symbol": "circle-open", "line": {"width": 2.5}},
         "hovertemplate": "%{y:.1f}%"},
    ]
    if measured:
        data.append(_measured_trace(measured))
        low = min([low, *(m["low"] for m in measured)])
    layout = figures.base_layout(
        "Compliance rate vs number of examples", "Examples", "Responses that follow every rule (%)",
        shapes=[figures.horizontal_line(100 * result.target, figures.MUTED),
                figures.vertical_line(result.current_examples, figures.ACCENT)],
        annotations=[{"x": 1, "xref": "paper", "xanchor": "right", "y": 100 * result.target, "yref": "y",
                      "yanchor": "bottom", "text": "95% threshold", "showarrow": False,
                      "font": {"color": "#555555", "size": 12}}],
    )
    layout["yaxis"]["range"] = [max(0.0, 100 * low - 3), 100.5]
    return {"data": data, "layout": layout}


def headline(result: Result, measured: list[dict] | None = None) -> str:
    n = result.current_examples
    text = (f"With {n:,} examples, fine-tuning complies {100 * result.current_fine_tuned:.1f}% of the time; "
            f"prompting plateaus at {100 * result.prompting_plateau:.1f}%.")
    if measured:
        text += " " + agreement(result, measured)
    return text


def agreement(result: Result, measured: list[dict]) -> str:
    """Where the model's curve falls inside your runs' intervals, and where (and by how much) it misses."""
    agree, miss = [], []
    for m in sorted(measured, key=lambda m: m["examples"]):
        predicted = predicted_at(result, m["examples"])
        (agree if m["low"] <= predicted <= m["high"] else miss).append((m, predicted))
    parts = []
    if agree:
        parts.append("the model agrees with your runs at " + _examples_list([m for m, _ in agree]))
    if miss:
        worst, predicted = max(miss, key=lambda pair: abs(pair[0]["compliance"] - pair[1]))
        subject = "it" if agree else "the model"
        parts.append(f"{subject} misses at {_examples_list([m for m, _ in miss])} (worst: {worst['examples']} examples, "
                     f"measured {100 * worst['compliance']:.0f}%, predicted {100 * predicted:.0f}%)")
    return "Your runs: " + "; ".join(parts) + "."


def _examples_list(points: list[dict]) -> str:
    values = [str(m["examples"]) for m in points]
    joined = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
    return f"{joined} examples"


def cohort_figure(points: list[dict]) -> dict:
    """A cohort's sweeps: every learner's measured compliance against examples, and the median at each size."""
    sizes = sorted({p["examples"] for p in points})
    medians = [float(np.median([p["compliance"] for p in points if p["examples"] == n])) for n in sizes]
    data = [
        {"type": "scatter", "mode": "markers", "name": "A learner's run", "x": [p["examples"] for p in points],
         "y": [100 * p["compliance"] for p in points], "text": [p["learner"] for p in points],
         "marker": {"color": figures.ACCENT, "size": 8, "opacity": 0.6},
         "hovertemplate": "%{text}: %{y:.0f}% at %{x} examples<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "name": "Cohort median", "x": sizes,
         "y": [100 * m for m in medians], "line": {"color": figures.FINE_TUNED, "width": 2.5},
         "hovertemplate": "median %{y:.0f}%<extra></extra>"},
    ]
    layout = figures.base_layout("The cohort's sweeps: compliance against examples", "Training examples",
                                 "Responses that follow every rule (%)",
                                 shapes=[figures.horizontal_line(100 * TARGET, figures.MUTED)])
    layout["yaxis"]["range"] = [0, 102]
    return {"data": data, "layout": layout}
