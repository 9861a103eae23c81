"""The fine-tuning advisor: prompt, few-shot, fine-tune, RAG, or RAG plus fine-tuning?

The advisor walks the course's decision tree with your numbers and records every step it took. The tree is
data here (`DECISION_TREE`); chapters 1 and 8 print `tree_text()` verbatim and a test checks that they do, and
that every branch of it leads where the advisor goes.

A task is fine-tuned for one of two reasons: prompting misses your compliance requirement (a quality reason),
or prompting meets it but a fine-tune's short prompt repays the setup within 30 days or fits a latency limit
the long prompt misses (a cost reason). Either way it must then pass the same gates: 50+ good examples, a
stable target, a setup that fits the budget. A one-off job never repays a setup. Knowledge is not behaviour:
when answers depend on your own documents or on facts that change weekly or daily, retrieval (RAG) supplies
them and fine-tuning at most adds the behaviour on top. Fine-tuning is only worth it where it can beat the
best prompt at all.

The numbers behind each option are estimates for a typical task of each type, not measurements:
compliance of a plain prompt and of a few-shot prompt, and the best a fine-tune reaches. A fine-tune's
compliance grows with your labelled examples along the curve of the chapter 0 simulation,
ceiling - (ceiling - plain prompt) x 20 / (20 + examples). For knowledge tasks "compliance" means
answering correctly from your documents, which retrieval lifts far more than training does.

Costs compare the approaches on the same model at $5 per million input tokens (the figure the course's
source uses: GPT-4o's input price at its launch in May 2024), so only the prompt length differs: the task's prompt, a few-shot prompt
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
class TreeStep:
    """One question of the decision tree: the `Reason.step` it records, and where each answer leads."""
    step: str
    label: str
    question: str
    branches: tuple[tuple[str, str], ...]


# The course's decision tree, in the order the advisor asks. Chapters 1 and 8 print tree_text() verbatim.
DECISION_TREE = (
    TreeStep("one-off", "One-off", "Is this a one-off job?",
             (("yes", "prompt it, plain or few-shot: no volume repays a setup. Stop."), ("no", "next question."))),
    TreeStep("knowledge", "Knowledge", "Do answers depend on your own documents, or on facts that change weekly?",
             (("yes", "retrieve the facts (RAG); the steps below decide the behavior."),
              ("no", "next question."))),
    TreeStep("compliance", "Step 1", "Does prompting with few-shot examples meet your compliance requirement?",
             (("no", "a quality reason: Step 2, unless no fine-tune scores higher (then keep prompting)."),
              ("yes", "no quality reason: the cost check."))),
    TreeStep("volume", "Cost check", f"Would a fine-tune repay its setup within {PAYBACK_DAYS} days, or fix a latency limit?",
             (("yes", "a cost reason: Step 2."), ("no", "keep prompting. Stop."))),
    TreeStep("examples", "Step 2", f"Do you have {MIN_EXAMPLES}+ high-quality labeled examples?",
             (("yes", "Step 3."), ("no", "keep prompting; collect examples first. Stop."))),
    TreeStep("stability", "Step 3", "Is the format, style or persona stable (not changing weekly)?",
             (("yes", "the budget check."), ("no", "keep prompting. Stop."))),
    TreeStep("budget", "Budget", "Does the setup cost fit your budget?",
             (("yes", "fine-tune (on top of RAG if the knowledge question said yes)."),
              ("no", "keep prompting for now. Stop."))),
)
STEP_LABELS = {tree_step.step: tree_step.label for tree_step in DECISION_TREE} | {
    "latency": "Cost check", "decision": "Decision"}


def tree_text() -> str:
    """The tree as the chapters print it: each question, then one indented line per answer."""
    width = max(len(tree_step.label) for tree_step in DECISION_TREE) + 2
    lines = []
    for tree_step in DECISION_TREE:
        lines.append(f"{tree_step.label:<{width}}{tree_step.question}")
        lines += [f"{'':<{width}}  {answer:<3} -> {outcome}" for answer, outcome in tree_step.branches]
    return "\n".join(lines)


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
    "knowledge-qa": TaskProfile("Summarize or answer from your documents", 55, 60, 75, 50, 800, rag=96),
    "codebase-qa": TaskProfile("Answer questions about your codebase", 45, 50, 65, 50, 800, rag=90),
    "one-off": TaskProfile("One-off task (e.g. a translation)", 95, 96, 97, 100, 800, one_off=True),
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
    compliance_required_pct: float = bounded(95.0, ge=50, le=100, step=1, unit="%", title="Compliance requirement",
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
    step: str  # a DECISION_TREE step, or "latency" (part of the cost check) or "decision"
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

    def say(step: str, text: str) -> None:
        reasons.append(Reason(step, f"{STEP_LABELS[step]}: {text}"))

    if task.one_off:
        best = "prompt" if options["prompt"].compliance_pct >= required else "few-shot"
        say("one-off", "a one-off job: no volume will pay back fine-tuning's setup, so prompt it.")
        return _result(best, reasons, options, required)

    needs_retrieval = task.rag is not None or params.knowledge_change in UNSTABLE
    if task.rag is not None:
        say("knowledge", "answers depend on your own documents: retrieval (RAG) supplies the facts; "
                         "fine-tuning teaches behaviour, not facts.")
    elif needs_retrieval:
        say("knowledge", f"your knowledge changes {params.knowledge_change}: keep it in a retrieval index (RAG), "
                         "not in the weights.")
    if needs_retrieval:
        without, tuned = "rag", "rag+fine-tune"
    else:
        without = "prompt" if options["prompt"].compliance_pct >= required else "few-shot"
        tuned = "fine-tune"
    reach = options[without].compliance_pct
    if reach < required:
        say("compliance", f"the best prompt-only approach ({OPTION_LABELS[without]}) reaches about "
                          f"{reach:.0f}% compliance, below your {required:.0f}% requirement.")
        # Judge fine-tuning by what it reaches with plenty of data: too few examples is step 2's concern.
        potential = _estimates(task, dataclasses.replace(params, labelled_examples=10_000))[tuned].compliance_pct
        wants_tuning = potential > reach
        if not wants_tuning:
            say("compliance", f"{OPTION_LABELS[tuned]} would not do better (about {potential:.0f}% at most): "
                              "the prompt is not what limits this task.")
    else:
        say("compliance", f"{OPTION_LABELS[without]} reaches about {reach:.0f}% compliance, meeting your "
                          f"{required:.0f}% requirement.")
        wants_tuning = _cost_says_tune(params, options[without], options[tuned], say)
    short = "" if reach >= required else f" It falls short of your requirement at about {reach:.0f}%."
    if not wants_tuning:
        say("decision", f"{OPTION_LABELS[without]}.{short}")
        return _result(without, reasons, options, required)

    if _blocker(params, options[tuned], say):
        say("decision", f"{OPTION_LABELS[without]} for now.{short}")
        return _result(without, reasons, options, required)
    expected = options[tuned].compliance_pct
    note = "" if expected >= required else (f" Expect about {expected:.0f}%, still short of {required:.0f}%: "
                                            "add targeted examples and measure.")
    say("decision", f"{OPTION_LABELS[tuned]}. The investment pays off.{note}")
    return _result(tuned, reasons, options, required)


def _cost_says_tune(params: Params, without: OptionEstimate, tuned: OptionEstimate, say) -> bool:
    """The cost check, asked only when prompting already meets the requirement: payback, then latency."""
    days = _payback_days(without, tuned)
    volume = f"{params.daily_requests:,} requests a day"
    if days is None:
        say("volume", f"{OPTION_LABELS[without.name]} already uses a short prompt, so fine-tuning would save "
                      "nothing per request.")
        pays = False
    elif days <= PAYBACK_DAYS:
        overhead = without.prompt_tokens - tuned.prompt_tokens
        say("volume", f"at {volume}, dropping {overhead:,} prompt tokens per request pays back the "
                      f"${tuned.setup_usd - without.setup_usd:,.0f} setup in {days:,.1f} days: cheaper at scale.")
        pays = True
    else:
        say("volume", f"at {volume}, fine-tuning would take {days:,.0f} days to pay back its setup "
                      f"(more than {PAYBACK_DAYS}): not worth it on cost.")
        pays = False
    return _latency_says_tune(params, without, tuned, say) or pays


def _latency_says_tune(params: Params, without: OptionEstimate, tuned: OptionEstimate, say) -> bool:
    tolerance = params.latency_tolerance_ms
    if without.latency_ms <= tolerance:
        return False
    if tuned.latency_ms <= tolerance:
        say("latency", f"{OPTION_LABELS[without.name]} takes about {without.latency_ms:,.0f} ms, over your "
                       f"{tolerance:,} ms; a fine-tuned model's short prompt takes about {tuned.latency_ms:,.0f} ms.")
        return True
    say("latency", f"every option takes longer than your {tolerance:,} ms (the fastest about "
                   f"{tuned.latency_ms:,.0f} ms); use a smaller model or shorter answers.")
    return False


def _blocker(params: Params, tuned: OptionEstimate, say) -> bool:
    """Steps 2 and 3 of the tree, then the budget: True when one of them rules fine-tuning out."""
    n = params.labelled_examples
    if n < MIN_EXAMPLES:
        say("examples", f"only {n} labelled examples; collect at least {MIN_EXAMPLES} high-quality ones "
                        "before fine-tuning.")
        return True
    say("examples", f"{n:,} labelled examples, enough to fine-tune ({MIN_EXAMPLES}+).")
    if params.knowledge_change in UNSTABLE:
        say("stability", f"the task changes {params.knowledge_change}: don't fine-tune a moving target.")
        return True
    say("stability", f"the task is stable (changes {params.knowledge_change}), so a fine-tune stays valid.")
    if tuned.setup_usd > params.setup_budget_usd:
        say("budget", f"{OPTION_LABELS[tuned.name]} needs about ${tuned.setup_usd:,.0f} up front, more than "
                      f"your ${params.setup_budget_usd:,.0f}.")
        return True
    say("budget", f"about ${tuned.setup_usd:,.0f} up front fits your ${params.setup_budget_usd:,.0f}.")
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
    # A recommendation that misses the requirement says so: a shortfall is never presented as acceptable.
    short = "" if result.expected_compliance_pct >= result.requirement_pct else \
        f", short of your {result.requirement_pct:.0f}% requirement,"
    return (f"Recommendation: {OPTION_LABELS[result.recommendation]}, about {result.expected_compliance_pct:.0f}% "
            f"compliance{short} for ${result.setup_cost_usd:,.0f} setup and ${result.monthly_cost_usd:,.0f} a month.")
