"""The fine-tuning advisor: prompt, few-shot, fine-tune, RAG, or RAG plus fine-tuning?

The advisor walks the chapter 1 decision tree with your numbers and records every step it took.

    Step 1: does prompting (plus few-shot examples) reach your compliance requirement?
    Step 2: do you have 50 or more high-quality labelled examples?
    Step 3: is the task stable (not changing weekly)?
    Decision: fine-tune, the investment pays off.

Around that tree sit the chapter's other rules. A one-off task never pays back fine-tuning's setup.
Knowledge is not behaviour: when answers depend on your own documents or code, or on facts that change
weekly or daily, retrieval (RAG) supplies them and fine-tuning at most adds the format on top. Even
when prompting is good enough, volume can make fine-tuning the cheaper choice: it removes the long
prompt from every request, and we fine-tune when that saving repays the setup within 30 days. Long
prompts also cost latency, which a fine-tuned model's short prompt avoids. Finally the setup has to
fit your budget, and fine-tuning is only worth it where it can beat the best prompt at all.

The numbers behind each option are estimates for a typical task of each type, not measurements:
compliance of a plain prompt and of a few-shot prompt, and the best a fine-tune reaches. A fine-tune's
compliance grows with your labelled examples along the curve of the chapter 0 simulation,
ceiling - (ceiling - plain prompt) x 20 / (20 + examples). For knowledge tasks "compliance" means
answering correctly from your documents, which retrieval lifts far more than training does.

Costs compare the approaches on the same model at $5 per million input tokens (GPT-4o's list price
when the course was written), so only the prompt length differs: the task's prompt, a few-shot prompt
with its examples, a 50-token prompt for a fine-tuned model, plus 1,000 retrieved tokens for RAG, and
a 300-token user request each time. Setup: about $100 for fine-tuning (two training runs at the spec's
$50), $200 to build a retrieval index, and $50 a month to host it. Latency: 300 ms to generate an
answer, 0.25 ms per prompt token (4,000 tokens a second) and 150 ms per retrieval. A fine-tuned
smaller model would be cheaper still: chapter 7 shows that calculation.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import bounded, choice

NAME = "advisor"
CHAPTER = 8
TITLE = "Interactive fine-tuning advisor"

OPTIONS = ("prompt", "few-shot", "fine-tune", "rag", "rag+fine-tune")
OPTION_LABELS = {"prompt": "Prompt", "few-shot": "Few-shot prompt", "fine-tune": "Fine-tune",
                 "rag": "RAG + prompt", "rag+fine-tune": "RAG + fine-tune"}
CHANGE_FREQUENCIES = ("never", "yearly", "monthly", "weekly", "daily")
UNSTABLE = ("weekly", "daily")  # the spec's step 3: "not changing weekly"

MIN_EXAMPLES = 50
PAYBACK_DAYS = 30
PRICE_PER_MTOK = 5.0
REQUEST_TOKENS = 300
FINE_TUNED_PROMPT_TOKENS = 50
RETRIEVED_TOKENS = 1000
FINE_TUNE_SETUP_USD = 100.0
RAG_SETUP_USD = 200.0
RAG_MONTHLY_USD = 50.0
GENERATION_MS = 300.0
PREFILL_MS_PER_TOKEN = 0.25
RETRIEVAL_MS = 150.0
_LEARNING_SCALE = 20.0  # examples that close half the gap to the fine-tuning ceiling (as in chapter 0)


@dataclass(frozen=True)
class TaskProfile:
    label: str
    plain: float  # compliance (%) of a plain prompt
    few_shot: float  # with few-shot examples in the prompt
    ceiling: float  # what a fine-tune reaches with plenty of examples
    prompt_tokens: int  # instructions a plain prompt needs
    few_shot_tokens: int  # instructions plus examples
    rag: float | None = None  # for knowledge tasks: compliance with retrieval
    one_off: bool = False


TASKS = {
    # The spec's table rows. General questions need no instructions: nothing for a fine-tune to shorten.
    "general-qa": TaskProfile("Answer general questions", 96, 97, 97, 50, 800),
    "classification": TaskProfile("Classify support tickets", 85, 93, 98, 300, 1500),
    "extraction": TaskProfile("Extract structured data from medical records", 78, 88, 98, 600, 2300),
    "style-voice": TaskProfile("Write in your brand voice", 70, 84, 95, 400, 2000),
    "safety-moderation": TaskProfile("Detect safety violations", 84, 91, 98, 400, 1800),
    # Knowledge tasks: the long part of the prompt is retrieved context, which fine-tuning cannot remove.
    "knowledge-qa": TaskProfile("Summarize or answer from your documents", 55, 60, 75, 50, 800, rag=94),
    "codebase-qa": TaskProfile("Answer questions about your codebase", 45, 50, 65, 50, 800, rag=90),
    "one-off": TaskProfile("One-off task (e.g. a translation)", 93, 95, 97, 100, 800, one_off=True),
}


@dataclass(frozen=True)
class Params:
    task_type: str = choice("classification", tuple(TASKS), description="What the model has to do.",
                            labels={key: task.label for key, task in TASKS.items()}, title="Task type")
    knowledge_change: str = choice("never", CHANGE_FREQUENCIES, title="Knowledge changes how often?",
                                   description="How often the facts or the task definition change.")
    labelled_examples: int = bounded(200, ge=0, le=10_000, step=10, title="Labeled examples available",
                                     description="High-quality labelled examples you have or can collect.")
    daily_requests: int = bounded(5000, ge=1, le=10_000_000, step=100, scale="log",
                                  description="Requests per day in production.")
    setup_budget_usd: float = bounded(500.0, ge=0, le=100_000, step=50, unit="$", title="Budget for setup ($)",
                                      description="What you can spend up front.")
    latency_tolerance_ms: int = bounded(1000, ge=100, le=10_000, step=50, unit="ms", title="Latency tolerance (ms)",
                                        description="The slowest acceptable response time.")
    compliance_required_pct: float = bounded(90.0, ge=50, le=100, step=1, unit="%", title="Compliance requirement",
                                             description="Share of responses that must follow every rule.")


@dataclass(frozen=True)
class OptionEstimate:
    name: str
    compliance_pct: float
    setup_usd: float
    monthly_usd: float
    latency_ms: float
    prompt_tokens: int


@dataclass(frozen=True)
class Reason:
    # One of: one-off, knowledge, compliance, volume, latency, examples, stability, budget, decision.
    step: str
    text: str


@dataclass(frozen=True)
class Result:
    recommendation: str
    reasons: tuple[Reason, ...]
    options: tuple[OptionEstimate, ...]
    expected_compliance_pct: float
    setup_cost_usd: float
    monthly_cost_usd: float
    latency_ms: float
    requirement_pct: float


def _estimates(task: TaskProfile, params: Params) -> dict[str, OptionEstimate]:
    n = params.labelled_examples
    fine_tuned = task.ceiling - (task.ceiling - task.plain) * _LEARNING_SCALE / (_LEARNING_SCALE + n)
    if task.rag is None:  # retrieval brings no facts this task lacks: it keeps the few-shot format
        rag, rag_tuned = task.few_shot, fine_tuned
    else:  # training on top of retrieval closes part of the remaining gap, as much as the data allows
        learned = n / (_LEARNING_SCALE + n)
        rag, rag_tuned = task.rag, task.rag + 0.5 * (100 - task.rag) * learned
    plans = {  # name: (compliance, prompt tokens, retrieval?, setup)
        "prompt": (task.plain, task.prompt_tokens, False, 0.0),
        "few-shot": (task.few_shot, task.few_shot_tokens, False, 0.0),
        "fine-tune": (fine_tuned, FINE_TUNED_PROMPT_TOKENS, False, FINE_TUNE_SETUP_USD),
        "rag": (rag, task.prompt_tokens if task.rag else task.few_shot_tokens, True, RAG_SETUP_USD),
        "rag+fine-tune": (rag_tuned, FINE_TUNED_PROMPT_TOKENS, True, RAG_SETUP_USD + FINE_TUNE_SETUP_USD),
    }
    estimates = {}
    for name, (compliance, prompt, retrieval, setup) in plans.items():
        tokens = prompt + REQUEST_TOKENS + (RETRIEVED_TOKENS if retrieval else 0)
        monthly = 30 * params.daily_requests * tokens * PRICE_PER_MTOK / 1e6 + (RAG_MONTHLY_USD if retrieval else 0)
        latency = GENERATION_MS + PREFILL_MS_PER_TOKEN * tokens + (RETRIEVAL_MS if retrieval else 0)
        estimates[name] = OptionEstimate(name, float(compliance), setup, monthly, latency, prompt)
    return estimates


def _payback_days(without: OptionEstimate, tuned: OptionEstimate) -> float | None:
    daily_saving = (without.monthly_usd - tuned.monthly_usd) / 30
    extra_setup = tuned.setup_usd - without.setup_usd
    return extra_setup / daily_saving if daily_saving > 0 else None


def simulate(params: Params) -> Result:
    task = TASKS[params.task_type]
    options = _estimates(task, params)
    required = params.compliance_required_pct
    reasons: list[Reason] = []
    say = lambda step, text: reasons.append(Reason(step, text))

    if task.one_off:
        best = "prompt" if options["prompt"].compliance_pct >= required else "few-shot"
        say("one-off", "A one-off task: there is no volume to pay back fine-tuning's setup, so prompt it.")
        return _result(best, reasons, options, required)

    needs_retrieval = task.rag is not None or params.knowledge_change in UNSTABLE
    if task.rag is not None:
        say("knowledge", "Answers depend on your own documents: retrieval (RAG) supplies the facts; "
                         "fine-tuning teaches behaviour, not facts.")
    elif needs_retrieval:
        say("knowledge", f"Your knowledge changes {params.knowledge_change}: keep it in a retrieval index (RAG), "
                         "not in the weights.")
    if needs_retrieval:
        without, tuned = "rag", "rag+fine-tune"
    else:
        without = "prompt" if options["prompt"].compliance_pct >= required else "few-shot"
        tuned = "fine-tune"
    reach = options[without].compliance_pct
    wants_tuning = reach < required
    if wants_tuning:
        say("compliance", f"Step 1: the best prompt-only approach ({OPTION_LABELS[without]}) reaches about "
                          f"{reach:.0f}% compliance, below your {required:.0f}% requirement.")
        # Judge fine-tuning by what it reaches with plenty of data: too few examples is step 2's concern.
        potential = _estimates(task, dataclasses.replace(params, labelled_examples=10_000))[tuned].compliance_pct
        if potential <= reach:
            say("compliance", f"{OPTION_LABELS[tuned]} would not do better (about {potential:.0f}% at most): "
                              "the prompt is not what limits this task.")
            wants_tuning = False
    else:
        say("compliance", f"Step 1: {OPTION_LABELS[without]} reaches about {reach:.0f}% compliance, meeting your "
                          f"{required:.0f}% requirement.")
        wants_tuning = _volume_says_tune(params, options[without], options[tuned], say)
        wants_tuning = _latency_says_tune(params, options[without], options[tuned], say) or wants_tuning
    short = "" if reach >= required else f" It falls short of your requirement at about {reach:.0f}%."
    if not wants_tuning:
        say("decision", f"Decision: {OPTION_LABELS[without]}.{short}")
        return _result(without, reasons, options, required)

    if _blocker(params, options[tuned], say):
        say("decision", f"Decision: {OPTION_LABELS[without]} for now.{short}")
        return _result(without, reasons, options, required)
    expected = options[tuned].compliance_pct
    note = "" if expected >= required else (f" Expect about {expected:.0f}%, still short of {required:.0f}%: "
                                            "add targeted examples and measure.")
    say("decision", f"Decision: {OPTION_LABELS[tuned]}. The investment pays off.{note}")
    return _result(tuned, reasons, options, required)


def _volume_says_tune(params: Params, without: OptionEstimate, tuned: OptionEstimate, say) -> bool:
    days = _payback_days(without, tuned)
    volume = f"{params.daily_requests:,} requests a day"
    if days is None:
        say("volume", f"Volume: {OPTION_LABELS[without.name]} already uses a short prompt, so fine-tuning would "
                      "save nothing per request.")
        return False
    overhead = without.prompt_tokens - tuned.prompt_tokens
    if days <= PAYBACK_DAYS:
        say("volume", f"Volume: at {volume}, dropping {overhead:,} prompt tokens per request pays back the "
                      f"${tuned.setup_usd - without.setup_usd:,.0f} setup in {days:,.1f} days: cheaper at scale.")
        return True
    say("volume", f"Volume: at {volume}, fine-tuning would take {days:,.0f} days to pay back its setup "
                  f"(more than {PAYBACK_DAYS}): not worth it on cost.")
    return False


def _latency_says_tune(params: Params, without: OptionEstimate, tuned: OptionEstimate, say) -> bool:
    tolerance = params.latency_tolerance_ms
    if without.latency_ms <= tolerance:
        return False
    if tuned.latency_ms <= tolerance:
        say("latency", f"Latency: {OPTION_LABELS[without.name]} takes about {without.latency_ms:,.0f} ms, over your "
                       f"{tolerance:,} ms; a fine-tuned model's short prompt takes about {tuned.latency_ms:,.0f} ms.")
        return True
    say("latency", f"Latency: every option takes longer than your {tolerance:,} ms (the fastest about "
                   f"{tuned.latency_ms:,.0f} ms); use a smaller model or shorter answers.")
    return False


def _blocker(params: Params, tuned: OptionEstimate, say) -> bool:
    """Steps 2 and 3 of the tree, then the budget: True when one of them rules fine-tuning out."""
    n = params.labelled_examples
    if n < MIN_EXAMPLES:
        say("examples", f"Step 2: only {n} labelled examples; collect at least {MIN_EXAMPLES} high-quality ones "
                        "before fine-tuning.")
        return True
    say("examples", f"Step 2: {n:,} labelled examples, enough to fine-tune ({MIN_EXAMPLES}+).")
    if params.knowledge_change in UNSTABLE:
        say("stability", f"Step 3: the task changes {params.knowledge_change}: don't fine-tune a moving target.")
        return True
    say("stability", f"Step 3: the task is stable (changes {params.knowledge_change}), so a fine-tune stays valid.")
    if tuned.setup_usd > params.setup_budget_usd:
        say("budget", f"Budget: {OPTION_LABELS[tuned.name]} needs about ${tuned.setup_usd:,.0f} up front, more than "
                      f"your ${params.setup_budget_usd:,.0f}.")
        return True
    return False


def _result(choice_: str, reasons: list[Reason], options: dict[str, OptionEstimate], required: float) -> Result:
    chosen = options[choice_]
    return Result(
        recommendation=choice_,
        reasons=tuple(reasons),
        options=tuple(options[name] for name in OPTIONS),
        expected_compliance_pct=chosen.compliance_pct,
        setup_cost_usd=chosen.setup_usd,
        monthly_cost_usd=chosen.monthly_usd,
        latency_ms=chosen.latency_ms,
        requirement_pct=required,
    )


def figure(result: Result) -> dict:
    labels = [OPTION_LABELS[option.name] for option in result.options]
    colors = [figures.FINE_TUNED if option.name == result.recommendation else figures.MUTED
              for option in result.options]
    setup = [option.setup_usd for option in result.options]
    data = [
        {"type": "bar", "name": "Expected compliance (%)", "x": labels,
         "y": [round(option.compliance_pct, 1) for option in result.options], "marker": {"color": colors},
         "text": [f"{option.compliance_pct:.0f}%" for option in result.options], "textposition": "outside",
         "cliponaxis": False, "hovertemplate": "%{x}: %{y:.1f}% compliance<extra></extra>"},
        {"type": "bar", "name": "Monthly cost ($)", "x": labels, "xaxis": "x2", "yaxis": "y2",
         "y": [round(option.monthly_usd, 2) for option in result.options], "marker": {"color": colors},
         "customdata": setup, "showlegend": False,
         "hovertemplate": "%{x}: %{y:$,.0f} a month, %{customdata:$,.0f} setup<extra></extra>"},
    ]
    low = float(np.floor(min(min(o.compliance_pct for o in result.options), result.requirement_pct) / 10) * 10)
    requirement = figures.horizontal_line(result.requirement_pct, figures.PROMPTING, xref="x domain")
    layout = figures.base_layout(
        f"Recommendation: {OPTION_LABELS[result.recommendation]}", "", "Expected compliance (%)",
        hovermode="closest", showlegend=False, shapes=[requirement],
        xaxis2=figures.axis("", domain=[0.56, 1.0], anchor="y2"),
        yaxis2=figures.axis("Monthly cost ($)", anchor="x2", tickprefix="$", rangemode="tozero"),
        annotations=[{"x": 0.0, "xref": "x domain", "xanchor": "left", "y": result.requirement_pct, "yanchor": "bottom",
                      "showarrow": False, "text": f"your requirement: {result.requirement_pct:.0f}%",
                      "font": {"color": figures.PROMPTING}}],
    )
    layout["xaxis"]["domain"] = [0.0, 0.44]
    layout["yaxis"]["range"] = [low, 103]
    return {"data": data, "layout": layout}


def headline(result: Result) -> str:
    return (f"Recommendation: {OPTION_LABELS[result.recommendation]}, about {result.expected_compliance_pct:.0f}% "
            f"compliance for ${result.setup_cost_usd:,.0f} setup and ${result.monthly_cost_usd:,.0f} a month.")
