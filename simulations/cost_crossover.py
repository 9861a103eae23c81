"""Prompt vs fine-tune cost crossover: the day a fine-tuned model becomes cheaper than a long prompt.

Prompting is a rental: every request pays again for the system prompt. Fine-tuning is buying: you pay
a training cost once, then each request carries only a short prompt. This simulation adds up both
bills day by day:

    prompted daily cost   = daily requests x (system prompt tokens + request tokens) x base price / 1e6
    fine-tuned daily cost = daily requests x (fine-tuned prompt tokens + request tokens) x fine-tuned price / 1e6
    fine-tuned cumulative = training cost + days x fine-tuned daily cost

The crossover day is where the two cumulative lines meet: training cost / (prompted daily cost -
fine-tuned daily cost). It may fall beyond the horizon you chose (the chart says so), or never come
at all when the fine-tuned model's request is not cheaper (for instance a fine-tuned model priced
well above the base model with a prompt that is already short).

The defaults follow the chapter: 10,000 requests a day with a 500-token system prompt, a base model
at $5 per million input tokens (GPT-4o's list price when the course was written) and a fine-tuned
small model at $3 per million, as in the spec's break-even example. Only input tokens are priced:
the answers are assumed to be the same length either way. Chapter 7 does the same sum per request,
with the data-collection cost included.
"""

from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.break_even import cost_per_request
from simulations.params import bounded

NAME = "cost-crossover"
CHAPTER = 1
TITLE = "Prompt vs fine-tune cost crossover"

_POINTS = 150


@dataclass(frozen=True)
class Params:
    daily_requests: int = bounded(10_000, ge=10, le=10_000_000, step=10, scale="log",
                                  description="Requests served per day.")
    system_prompt_tokens: int = bounded(500, ge=0, le=20_000, step=50, unit="tokens",
                                        description="System prompt (and few-shot examples) sent with every "
                                                    "prompted request.")
    request_tokens: int = bounded(200, ge=0, le=20_000, step=50, unit="tokens",
                                  description="The user's own message, paid for by both approaches.")
    finetuned_prompt_tokens: int = bounded(50, ge=0, le=20_000, step=10, unit="tokens",
                                           description="The short prompt the fine-tuned model still needs.")
    base_price_per_mtok: float = bounded(5.0, ge=0.01, le=100, step=0.05, unit="$/M tokens",
                                         title="Base price ($/M tokens)",
                                         description="Input price of the prompted model, dollars per million tokens.")
    finetuned_price_per_mtok: float = bounded(3.0, ge=0.01, le=100, step=0.05, unit="$/M tokens",
                                              title="Fine-tuned price ($/M tokens)",
                                              description="Input price of the fine-tuned model, dollars per "
                                                          "million tokens.")
    training_cost_usd: float = bounded(200.0, ge=0, le=100_000, step=10, unit="$", title="Training cost ($)",
                                       description="One-off cost of training the fine-tuned model, in dollars.")
    horizon_days: int = bounded(90, ge=1, le=730, step=1, unit="days",
                                description="How many days of traffic the chart covers.")


@dataclass(frozen=True)
class Result:
    days: np.ndarray  # (n,) x axis
    prompting_cumulative: np.ndarray
    finetuned_cumulative: np.ndarray
    prompting_daily_cost: float
    finetuned_daily_cost: float
    training_cost: float
    crossover_day: float | None  # None when the fine-tuned model is never cheaper
    status: str  # "within-horizon", "beyond-horizon" or "never"
    horizon_days: int


def simulate(params: Params) -> Result:
    prompting_daily = params.daily_requests * cost_per_request(
        params.system_prompt_tokens, params.request_tokens, params.base_price_per_mtok)
    finetuned_daily = params.daily_requests * cost_per_request(
        params.finetuned_prompt_tokens, params.request_tokens, params.finetuned_price_per_mtok)
    saving = prompting_daily - finetuned_daily
    crossover = params.training_cost_usd / saving if saving > 0 else None
    if crossover is None:
        status = "never"
    else:
        status = "within-horizon" if crossover <= params.horizon_days else "beyond-horizon"
    days = np.linspace(0, params.horizon_days, _POINTS)
    return Result(
        days=days,
        prompting_cumulative=days * prompting_daily,
        finetuned_cumulative=params.training_cost_usd + days * finetuned_daily,
        prompting_daily_cost=prompting_daily,
        finetuned_daily_cost=finetuned_daily,
        training_cost=params.training_cost_usd,
        crossover_day=crossover,
        status=status,
        horizon_days=params.horizon_days,
    )


def figure(result: Result) -> dict:
    x = result.days.tolist()
    hover = "%{y:$,.2f}"
    data = [
        {"type": "scatter", "mode": "lines", "name": "Prompting (cumulative)", "x": x,
         "y": result.prompting_cumulative.tolist(), "line": {"color": figures.PROMPTING, "width": 2.5},
         "hovertemplate": hover},
        {"type": "scatter", "mode": "lines", "name": "Fine-tuned incl. training (cumulative)", "x": x,
         "y": result.finetuned_cumulative.tolist(), "line": {"color": figures.FINE_TUNED, "width": 2.5},
         "hovertemplate": hover},
        # The daily bill, as a small bar chart beside the cumulative one.
        {"type": "bar", "name": "Daily cost", "showlegend": False, "xaxis": "x2", "yaxis": "y2",
         "x": ["Prompting", "Fine-tuned"], "y": [result.prompting_daily_cost, result.finetuned_daily_cost],
         "marker": {"color": [figures.PROMPTING, figures.FINE_TUNED]},
         "text": [f"${result.prompting_daily_cost:,.2f}", f"${result.finetuned_daily_cost:,.2f}"],
         "textposition": "outside", "cliponaxis": False, "hovertemplate": "%{x}: %{y:$,.2f} per day<extra></extra>"},
    ]
    shapes, annotations = [], []
    if result.status == "within-horizon":
        day = float(result.crossover_day)
        data.append({"type": "scatter", "mode": "markers", "name": f"Crossover: day {day:,.1f}", "x": [day],
                     "y": [day * result.prompting_daily_cost], "marker": {"color": figures.ACCENT, "size": 11},
                     "hovertemplate": hover})
        shapes.append(figures.vertical_line(day, figures.ACCENT))
    else:
        annotations.append({"x": 0.34, "xref": "paper", "y": 0.95, "yref": "paper", "showarrow": False,
                            "text": _no_crossover_text(result), "font": {"color": figures.ACCENT}})
    layout = figures.base_layout(
        "Cumulative cost of prompting vs fine-tuning", "Days", "Cumulative cost ($)",
        shapes=shapes, annotations=annotations,
        xaxis2=figures.axis("Daily cost", domain=[0.8, 1.0], anchor="y2"),
        yaxis2=figures.axis("", anchor="x2", tickprefix="$", rangemode="tozero"),
    )
    layout["xaxis"]["domain"] = [0.0, 0.68]
    layout["yaxis"]["tickprefix"] = "$"
    return {"data": data, "layout": layout}


def _no_crossover_text(result: Result) -> str:
    if result.status == "never":
        return "No crossover: the fine-tuned request is not cheaper"
    return f"Crossover after the horizon, on day {result.crossover_day:,.0f}"


def headline(result: Result) -> str:
    if result.status == "never":
        return "Fine-tuning never becomes cheaper: a fine-tuned request costs as much as a prompted one or more."
    saving = result.prompting_daily_cost - result.finetuned_daily_cost
    where = "" if result.status == "within-horizon" else f", beyond your {result.horizon_days}-day horizon"
    return f"Fine-tuning becomes cheaper on day {result.crossover_day:,.1f}{where}, then saves ${saving:,.2f} a day."
