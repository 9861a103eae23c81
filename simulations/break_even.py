"""The break-even calculation: after how many requests does fine-tuning pay for itself?

Fine-tuning has a fixed upfront cost (training compute plus the data: labelling is often the largest
item) and then a lower cost per request, because the fine-tuned model no longer needs the long
system prompt and the few-shot examples on every call. Prompting has no upfront cost but pays for
that overhead every time. With input prices in dollars per million tokens:

    prompting cost per request  = (prompt overhead tokens + request tokens) x base price / 1,000,000
    fine-tuned cost per request = (fine-tuned prompt tokens + request tokens) x fine-tuned price / 1,000,000
    break-even requests N       = (training cost + data cost) / (prompting - fine-tuned cost per request)
    break-even days             = N / requests per day

When the fine-tuned request is not cheaper, the difference is zero or negative and fine-tuning never
pays for itself on cost alone (it may still be worth it for quality: see chapter 0).

The spec's example: GPT-4o with 2,300 tokens of overhead at $5/M costs $0.0115 per request; a
fine-tuned GPT-4o-mini with a 50-token prompt at $3/M costs $0.00015. With $50 of training the
difference of $0.01135 pays it back after about 4,400 requests, 4.4 days at 1,000 a day. Add $2,000
of data labelling and it takes about 180,000 requests, roughly six months.

Assumptions: only input tokens are priced (output tokens cost the same either way when the answers
are the same length); prices are constant; the request tokens (the user's own message) are paid in
both cases, so at 0 only the overhead is compared, as in the spec's example.

Your run. Instead of a typed guess, the training cost can come from a run you measured: its training time
times a price per GPU-hour you set (`params_for_run`), and its tokens give that price per million training
tokens. A course run on a CPU is tiny; what it shows is the arithmetic, which scales with your real run.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import bounded

NAME = "break-even"
CHAPTER = 7
TITLE = "Break-even calculator"

_POINTS = 120


def cost_per_request(prompt_tokens: float, request_tokens: float, price_per_mtok: float) -> float:
    """Dollars for one request's input tokens at a price in dollars per million tokens."""
    return (prompt_tokens + request_tokens) * price_per_mtok / 1e6


@dataclass(frozen=True)
class Params:
    training_cost_usd: float = bounded(200.0, ge=0, le=100_000, step=10, unit="$", title="Training cost ($)",
                                       description="Compute for the fine-tuning runs, in dollars.")
    data_cost_usd: float = bounded(0.0, ge=0, le=100_000, step=50, unit="$", title="Data cost ($)",
                                   description="Collecting and labelling the training examples, in dollars.")
    prompt_overhead_tokens: int = bounded(1500, ge=0, le=20_000, step=50, unit="tokens",
                                          title="Prompt tokens overhead",
                                          description="System prompt plus few-shot examples sent with every "
                                                      "prompted request.")
    request_tokens: int = bounded(0, ge=0, le=20_000, step=50, unit="tokens",
                                  description="The user's own message, paid for by both approaches.")
    base_price_per_mtok: float = bounded(5.0, ge=0.01, le=100, step=0.05, unit="$/M tokens",
                                         title="Base model price ($/M tok)",
                                         description="Input price of the model you prompt, dollars per million tokens.")
    finetuned_prompt_tokens: int = bounded(50, ge=0, le=20_000, step=10, unit="tokens",
                                           description="The short prompt the fine-tuned model still needs.")
    finetuned_price_per_mtok: float = bounded(3.0, ge=0.01, le=100, step=0.05, unit="$/M tokens",
                                              title="Fine-tuned price ($/M tok)",
                                              description="Input price of the fine-tuned model, dollars per "
                                                          "million tokens.")
    requests_per_day: int = bounded(5000, ge=1, le=10_000_000, step=100, scale="log",
                                    description="Requests served per day.")
    gpu_hour_usd: float = bounded(2.0, ge=0.01, le=100, step=0.1, unit="$", title="GPU-hour price ($)",
                                  description="What an hour of GPU time costs you; with your run drawn in, the "
                                              "training cost is its measured time at this price.")


def params_for_run(params: Params, measured: dict) -> Params:
    """The same settings with the training cost taken from a run: its measured hours x the GPU-hour price."""
    cost = float(measured["train_duration_s"]) / 3600 * params.gpu_hour_usd
    return dataclasses.replace(params, training_cost_usd=round(cost, 6))


@dataclass(frozen=True)
class Result:
    prompting_cost_per_request: float
    finetuned_cost_per_request: float
    savings_per_request: float
    upfront_cost: float
    training_cost: float
    break_even_requests: float | None
    break_even_days: float | None
    reason: str | None  # why there is no break-even, when there is none
    requests: np.ndarray  # (n,) x axis of the cumulative chart
    prompting_cumulative: np.ndarray
    finetuned_cumulative: np.ndarray
    requests_per_day: int


def simulate(params: Params) -> Result:
    prompting = cost_per_request(params.prompt_overhead_tokens, params.request_tokens, params.base_price_per_mtok)
    finetuned = cost_per_request(params.finetuned_prompt_tokens, params.request_tokens,
                                 params.finetuned_price_per_mtok)
    upfront = params.training_cost_usd + params.data_cost_usd
    savings = prompting - finetuned
    if savings > 0:
        requests_needed = upfront / savings
        days = requests_needed / params.requests_per_day
        reason = None
        horizon = max(2 * requests_needed, params.requests_per_day)
    else:
        requests_needed = days = None
        reason = (f"A fine-tuned request costs ${finetuned:.5f}, not less than a prompted one at "
                  f"${prompting:.5f}, so the upfront ${upfront:,.0f} is never paid back.")
        horizon = 30 * params.requests_per_day  # a month of traffic shows the lines never meet
    requests = np.linspace(0, horizon, _POINTS)
    return Result(
        prompting_cost_per_request=prompting,
        finetuned_cost_per_request=finetuned,
        savings_per_request=savings,
        upfront_cost=upfront,
        training_cost=params.training_cost_usd,
        break_even_requests=requests_needed,
        break_even_days=days,
        reason=reason,
        requests=requests,
        prompting_cumulative=requests * prompting,
        finetuned_cumulative=upfront + requests * finetuned,
        requests_per_day=params.requests_per_day,
    )


def figure(result: Result, measured: dict | None = None) -> dict:
    x = result.requests.tolist()
    days = (result.requests / result.requests_per_day).tolist()
    hover = "%{y:$,.2f} after %{x:,.0f} requests (%{customdata:.1f} days)<extra></extra>"
    data = [
        {"type": "scatter", "mode": "lines", "name": "Prompting", "x": x, "y": result.prompting_cumulative.tolist(),
         "customdata": days, "line": {"color": figures.PROMPTING, "width": 2.5}, "hovertemplate": hover},
        {"type": "scatter", "mode": "lines", "name": "Fine-tuned (incl. upfront cost)", "x": x,
         "y": result.finetuned_cumulative.tolist(), "customdata": days,
         "line": {"color": figures.FINE_TUNED, "width": 2.5}, "hovertemplate": hover},
    ]
    shapes, annotations = [], []
    if result.break_even_requests is not None:
        n = float(result.break_even_requests)
        data.append({"type": "scatter", "mode": "markers", "name": "Break-even", "x": [n],
                     "y": [n * result.prompting_cost_per_request], "customdata": [float(result.break_even_days)],
                     "marker": {"color": figures.ACCENT, "size": 11}, "hovertemplate": hover})
        shapes.append(figures.vertical_line(n, figures.ACCENT))
        annotations.append({"x": n, "y": 1, "yref": "paper", "yanchor": "top", "xanchor": "left", "xshift": 6,
                            "showarrow": False,
                            "text": f"break-even: {n:,.0f} requests ({result.break_even_days:,.1f} days)",
                            "font": {"color": figures.ACCENT}})
    layout = figures.base_layout("Cumulative cost: prompting vs fine-tuning", "Requests served",
                                 "Cumulative cost ($)", shapes=shapes, annotations=annotations)
    layout["yaxis"]["tickprefix"] = "$"
    layout["hovermode"] = "closest"
    return {"data": data, "layout": layout}


def headline(result: Result, measured: dict | None = None) -> str:
    if measured is not None:
        hours = float(measured["train_duration_s"]) / 3600
        tokens = int(measured.get("tokens") or 0)
        per_million = result.training_cost / tokens * 1e6 if tokens else 0.0
        return (f"Your run trained {tokens:,} tokens in {3600 * hours:,.1f} s: ${result.training_cost:,.4f} of "
                f"GPU time at this price, ${per_million:,.2f} per million tokens. " + _plain_headline(result))
    return _plain_headline(result)


def _plain_headline(result: Result) -> str:
    if result.break_even_requests is None:
        return (f"Fine-tuning never breaks even: a fine-tuned request costs ${result.finetuned_cost_per_request:.5f}, "
                f"a prompted one ${result.prompting_cost_per_request:.5f}.")
    return (f"Break-even after {result.break_even_requests:,.0f} requests "
            f"({result.break_even_days:,.1f} days).")
