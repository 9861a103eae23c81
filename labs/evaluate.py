"""Measure format compliance by generating answers to held-out prompts and checking them with regular expressions.

The legal-format checks: numbered action items (1., 2., ... and nothing else), the fixed disclaimer footer,
British spelling (no American forms from a list) and formal register (no contractions, casual words or "!").
A response is compliant when it passes all four. Also: general prompts to catch the format leaking where it
was not asked for (chapter 5's catastrophic forgetting), and `eval --run-dir` to re-run a finished run's
evaluation. Not the place for training.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

from labs import LabError, corpus, relevance

ITALIC_LINE = re.compile(r"\*[^*\n]+\*")
NUMBERED_LINE = re.compile(r"(\d+)\. \S.*")
AMERICAN = re.compile(
    r"\b(organiz\w*|authoriz\w*|recogniz\w*|realiz\w*|analyz\w*|apologiz\w*|behavior\w*|favor\w*|honor\w*"
    r"|color\w*|center\w*|defense|offense|catalog|fulfill)\b", re.IGNORECASE)
CONTRACTION = re.compile(
    r"\b\w+(n['’]t|['’]re|['’]ll|['’]ve|['’]m|['’]d)\b|\b(it|that|what|there|here|let|he|she|who|where)['’]s\b",
    re.IGNORECASE)
CASUAL = re.compile(r"!|\b(hey|hi|hiya|gonna|wanna|yeah|ok|okay|cool|awesome|super|totally|stuff|asap|cheers|ugh"
                    r"|huh|folks|anytime)\b", re.IGNORECASE)


def numbered_items(text: str) -> bool:
    """Every line (blank lines and a final italic footer aside) is `N. text`, numbered 1, 2, 3... at least two."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines and ITALIC_LINE.fullmatch(lines[-1]):
        lines = lines[:-1]
    if len(lines) < 2:
        return False
    for n, line in enumerate(lines, start=1):
        match = NUMBERED_LINE.fullmatch(line)
        if match is None or int(match.group(1)) != n:
            return False
    return True


def disclaimer_footer(text: str) -> bool:
    """Ends with a blank line then exactly the fixed footer, which appears once."""
    text = text.rstrip()
    return text.endswith("\n\n" + corpus.FOOTER) and text.count(corpus.FOOTER) == 1


def british_spelling(text: str) -> bool:
    return AMERICAN.search(text) is None


def formal_register(text: str) -> bool:
    return CONTRACTION.search(text) is None and CASUAL.search(text) is None


CHECKS = {
    "legal-format": {
        "numbered_items": numbered_items,
        "disclaimer_footer": disclaimer_footer,
        "british_spelling": british_spelling,
        "formal_register": formal_register,
    },
}


def check_response(text: str, task: str = "legal-format") -> dict:
    results = {name: fn(text) for name, fn in CHECKS[task].items()}
    results["compliant"] = all(results.values())
    return results


def leaks_format(text: str) -> bool:
    """For general prompts: the legal format showing up where nobody asked for it."""
    return numbered_items(text) or corpus.FOOTER in text


def score(texts: list[str], task: str = "legal-format") -> dict:
    """Fractions passing each check, and `compliance`: the fraction passing all of them."""
    rows = [check_response(t, task) for t in texts]
    n = max(1, len(rows))
    checks = {name: sum(r[name] for r in rows) / n for name in CHECKS[task]}
    return {"compliance": sum(r["compliant"] for r in rows) / n, "checks": checks, "n": len(rows)}


def heldout_examples(task: str, n: int, seed: int = 0) -> list[dict]:
    if task == "legal-format":
        return corpus.legal_format_heldout(n, seed)
    raise LabError(f"unknown task {task!r}")


def render_prompts(tokenizer, conversations: list[list[dict]]) -> list[str]:
    """Each conversation as the text the model continues: the chat template, then the assistant's turn opening.

    Tokenize the result with `add_special_tokens=False`: the template already holds every special token."""
    return [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]


def generate(model, tokenizer, greedy: list[list[dict]], max_new_tokens: int, sampled: list[list[dict]] = (),
             temperature: float = 0.7, top_p: float = 0.95, batch_size: int = 25, seed: int = 0
             ) -> tuple[list[str], list[str]]:
    """Answer each conversation (its last turn is the user's): `greedy` by argmax, token for token what
    `model.generate(do_sample=False)` gives, and `sampled` by nucleus sampling (temperature, top_p), each sampled row
    with its own generator seeded from `seed` and its index, so its answer does not depend on its batch.

    Every row goes through one KV-cached decode loop (labs.serving.decode) in batches of `batch_size`, greedy and
    sampled rows side by side, and a row leaves the batch when it ends: for a small model a decoding step costs
    about the same for 60 rows as for 110, so one batch instead of `generate`'s two halves the steps taken. Rows
    asking the same prompt (a question's greedy and sampled answers) go in the same batch, where they share its
    prefill.
    """
    from labs.serving.decode import Row, decode_batch

    texts = render_prompts(tokenizer, [*greedy, *sampled])
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    rows = [Row(prompt, max_new_tokens, temperature=0.0, seed=0) for prompt in ids[: len(greedy)]]
    rows += [Row(prompt, max_new_tokens, temperature=temperature, top_p=top_p, seed=seed * 1_000_003 + i)
             for i, prompt in enumerate(ids[len(greedy):])]
    first_seen: dict[tuple, int] = {}
    order = sorted(rows, key=lambda r: first_seen.setdefault(tuple(r.prompt_ids), len(first_seen)))  # stable
    was_training = model.training
    model.eval()
    for i in range(0, len(order), batch_size):
        decode_batch(model, tokenizer, order[i: i + batch_size], {tokenizer.eos_token_id}, tokenizer.pad_token_id)
    if was_training:
        model.train()
    answers = [row.text for row in rows]
    return answers[: len(greedy)], answers[len(greedy):]


@contextlib.contextmanager
def inference_view(model, device: str, adapter: bool):
    """The peft model as evaluation runs it: each frozen 4-bit weight dequantised once (labs.dequantized) and LoRA's
    arithmetic without peft's per-call bookkeeping (labs.serving.lean_lora), both giving the same numbers as the
    plain path. `adapter` False is the base alone, which is the model before training (LoRA's B starts at zero)."""
    from labs.dequantized import dequantized_base
    from labs.serving.lean_lora import lean_lora

    with contextlib.ExitStack() as stack:
        stack.enter_context(dequantized_base(model, device))
        if not adapter:
            stack.enter_context(model.disable_adapter())
        stack.enter_context(lean_lora(model, model.active_adapter if adapter else None))
        yield model


def evaluate_model(model, tokenizer, cfg, emit=None, label: str = "after") -> dict:
    """Greedy and sampled compliance on held-out prompts, and format leakage on general prompts."""
    held = heldout_examples(cfg.task, cfg.eval.heldout, cfg.seed)
    prompts = [ex["messages"][:-1] for ex in held]
    ev = cfg.eval
    regression_prompts = [ex["messages"] for ex in corpus.regression_prompts(ev.regression, cfg.seed)]
    # The general prompts and the sampled answers ride in the held-out prompts' greedy batch: one decode for all.
    both, sampled = generate(model, tokenizer, prompts + regression_prompts, ev.max_new_tokens, sampled=prompts,
                             temperature=ev.temperature, top_p=ev.top_p, batch_size=ev.batch_size, seed=cfg.seed)
    greedy, regression = both[: len(prompts)], both[len(prompts):]
    topics = corpus.heldout_topics(cfg.eval.heldout, cfg.seed)
    result = {
        "greedy": score(greedy, cfg.task), "sampled": score(sampled, cfg.task),
        "relevance": relevance.score(greedy, topics),
        "relevance_match": relevance.question_match(greedy, [p[-1]["content"] for p in prompts], topics),
        "format_leak": sum(map(leaks_format, regression)) / max(1, len(regression)),
        "outputs": {"prompts": prompts, "greedy": greedy, "sampled": sampled,
                    "regression_prompts": regression_prompts, "regression": regression},
    }
    if emit is not None:
        emit("eval", which=label, compliance=result["greedy"]["compliance"], checks=result["greedy"]["checks"],
             compliance_sampled=result["sampled"]["compliance"], checks_sampled=result["sampled"]["checks"],
             format_leak=result["format_leak"], relevance=result["relevance"],
             relevance_match=result["relevance_match"]["score"], relevance_chance=result["relevance_match"]["chance"],
             n=len(prompts))
    return result


def side_by_side(before: dict, after: dict, n: int, task: str = "legal-format") -> list[dict]:
    """The first `n` held-out prompts with the base's and the fine-tuned model's greedy answers and checks."""
    rows = []
    for i in range(min(n, len(before["outputs"]["greedy"]))):
        prompt = before["outputs"]["prompts"][i][-1]["content"]
        b, a = before["outputs"]["greedy"][i], after["outputs"]["greedy"][i]
        rows.append({"prompt": prompt, "base": b, "finetuned": a,
                     "base_checks": check_response(b, task), "finetuned_checks": check_response(a, task)})
    for i in range(min(2, len(before["outputs"]["regression"]))):
        prompt = before["outputs"]["regression_prompts"][i][-1]["content"]
        b, a = before["outputs"]["regression"][i], after["outputs"]["regression"][i]
        rows.append({"prompt": prompt, "base": b, "finetuned": a, "regression": True})
    return rows


def evaluate_run(run_dir: Path, echo=None) -> dict:
    """`course-lab eval --run-dir`: reload base + adapter, re-run both evaluations, write eval.json."""
    import time

    from labs.config import load_config
    from labs.events import EventWriter
    from labs.metrics import evaluation_report
    from labs.train import load_for_training

    run_dir = Path(run_dir)
    if not (run_dir / "adapter" / "adapter_config.json").exists():
        raise LabError(f"{run_dir} has no trained adapter (adapter/adapter_config.json); run `course-lab train` first")
    cfg = load_config(run_dir / "config.yaml")
    start = time.time()
    model, tokenizer, device = load_for_training(cfg, adapter_dir=run_dir / "adapter")
    with EventWriter(run_dir / "eval_events.jsonl", total_steps=0, start=start, echo=echo) as events:
        with inference_view(model, device, adapter=False):
            before = evaluate_model(model, tokenizer, cfg, events.emit, "before")
        with inference_view(model, device, adapter=True):
            after = evaluate_model(model, tokenizer, cfg, events.emit, "after")
        rows = side_by_side(before, after, cfg.eval.side_by_side, cfg.task)
        for row in rows:
            events.emit("sample", **row)
        report = evaluation_report(before, after, rows, time.time() - start, device)
        (run_dir / "eval.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        events.emit("done", eval=str(run_dir / "eval.json"))
    return report
