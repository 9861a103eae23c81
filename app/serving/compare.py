"""Chapter 6's serving lab: one prompt sent at once to a base and to several of the learner's adapters on it, the
answers side by side with their timings, the model server's recent batches as a routing view, and the snippet
that calls the same models from the official `openai` client.

The requests go out together so that the model server can batch them; nothing here imports torch.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass

from app.serving.catalog import ServedModel, servable_models
from app.serving.keys import list_keys
from app.serving.model_server import Generation, ModelServerRejected, ModelServerUnavailable
from labs.corpus import LEGAL_SYSTEM

MIN_ADAPTERS = 2
MAX_MODELS = 6  # one base and up to five adapters: more answers than a page shows side by side
MAX_PROMPT_CHARS = 2_000
MAX_TOKENS = 120  # a five-item legal answer with its footer, on the course's bases
DEFAULT_PROMPT = "My landlord is keeping my deposit after I moved out. What should I do?"
REQUEST_PREFIX = "lab-"


@dataclass(frozen=True)
class LabForm:
    prompt: str
    system: str
    models: tuple[str, ...]  # the chosen adapters' ids


class LabInputError(ValueError):
    """A form field that cannot be used; the message names the field."""


def lab_models(sessions, learner_ids, settings) -> tuple[list[ServedModel], list[ServedModel]]:
    """(bases, adapters) the learner may compare: the servable bases and their own adapters."""
    models = servable_models(sessions, learner_ids, settings)
    return [m for m in models if not m.is_adapter], [m for m in models if m.is_adapter]


def parse_form(fields: dict, chosen: list[str], adapters: list[ServedModel]) -> LabForm:
    """The form's values, checked: a prompt, a system prompt, and two or more of the learner's adapters."""
    prompt = str(fields.get("prompt") or "").strip()
    if not prompt:
        raise LabInputError("prompt: write a question to send to the models.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise LabInputError(f"prompt: at most {MAX_PROMPT_CHARS} characters (this one has {len(prompt)}).")
    system = str(fields.get("system") or "").strip()
    if len(system) > MAX_PROMPT_CHARS:
        raise LabInputError(f"system: at most {MAX_PROMPT_CHARS} characters (this one has {len(system)}).")
    known = {m.id for m in adapters}
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise LabInputError(f"models: {unknown[0]!r} is not one of your adapters.")
    chosen = list(dict.fromkeys(chosen))  # each adapter once, in the form's order
    if len(chosen) < MIN_ADAPTERS:
        raise LabInputError(f"models: choose at least {MIN_ADAPTERS} of your adapters (you chose {len(chosen)}).")
    if len(chosen) > MAX_MODELS - 1:
        raise LabInputError(f"models: choose at most {MAX_MODELS - 1} adapters (you chose {len(chosen)}).")
    return LabForm(prompt, system, tuple(chosen))


def targets(form: LabForm, bases: list[ServedModel], adapters: list[ServedModel]) -> list[ServedModel]:
    """What the prompt goes to: the base of each chosen adapter (once), then the adapters."""
    by_id = {m.id: m for m in adapters}
    chosen = [by_id[name] for name in form.models]
    base_by_name = {m.base: m for m in bases}
    used_bases = [base_by_name[name] for name in dict.fromkeys(m.base for m in chosen) if name in base_by_name]
    return used_bases + chosen


async def _answer(client, model: ServedModel, messages: list[dict], request_id: str) -> dict:
    generation = Generation(model.base, model.run_id, model.adapter_path, messages, MAX_TOKENS, temperature=0.0,
                            request_id=request_id)
    started = time.perf_counter()
    row = {"model": model.id, "base": model.base, "adapter": model.run_id, "recipe": model.recipe,
           "aliases": model.aliases, "request_id": request_id}
    try:
        result = await client.generate(generation)
    except (ModelServerUnavailable, ModelServerRejected) as exc:
        return row | {"error": str(exc), "retry_after_s": getattr(exc, "retry_after_s", None)}
    latency = time.perf_counter() - started
    decode_s = max(result["total_s"] - result["queue_s"], 1e-9)
    return row | {
        "text": result["text"], "finish_reason": result["finish_reason"],
        "prompt_tokens": result["prompt_tokens"], "completion_tokens": result["completion_tokens"],
        "latency_s": latency, "queue_s": result["queue_s"],
        "tokens_per_s": result["completion_tokens"] / decode_s, "batch": result["batch"],
    }


async def run_comparison(client, form: LabForm, models: list[ServedModel]) -> list[dict]:
    """Send the prompt to every model at once (the model server batches what arrives together); one row each."""
    messages = ([{"role": "system", "content": form.system}] if form.system else []) + [
        {"role": "user", "content": form.prompt}]
    ids = [f"{REQUEST_PREFIX}{uuid.uuid4().hex[:12]}" for _ in models]
    return list(await asyncio.gather(*(_answer(client, m, messages, i) for m, i in zip(models, ids))))


async def routing_view(client, answers: list[dict], adapters: list[ServedModel], limit: int = 8) -> list[dict]:
    """The model server's latest batches as the learner may see them: their own adapters by name, anyone else's
    only as "another learner's adapter", and which of this comparison's requests each batch carried."""
    mine = {m.run_id: m.id for m in adapters}
    asked = {a["request_id"]: a["model"] for a in answers}
    rows = []
    for batch in await client.batches(limit):
        adapter = batch.get("adapter")
        rows.append({
            "id": batch["id"], "base": batch["base"], "size": batch["size"], "tokens": batch.get("tokens"),
            "duration_s": batch.get("duration_s"),
            "adapter": "none (the base)" if adapter is None else mine.get(adapter, "another learner's adapter"),
            "yours": [asked[r] for r in batch.get("request_ids", []) if r in asked],
        })
    return rows


def widget_context(sessions, learner_ids, settings, form: LabForm | None = None) -> dict:
    """Everything the lab's form and snippet show for this learner (sync: database reads, in a worker thread)."""
    bases, adapters = lab_models(sessions, learner_ids, settings)
    keys = [key for key in list_keys(sessions, learner_ids) if key.revoked_at is None]
    example = adapters[0].id if adapters else (bases[0].id if bases else "tiny")
    return {
        "adapters": adapters, "enough": len(adapters) >= MIN_ADAPTERS, "min_adapters": MIN_ADAPTERS,
        "prompt": form.prompt if form else DEFAULT_PROMPT, "system": form.system if form else LEGAL_SYSTEM,
        "chosen": list(form.models) if form else [m.id for m in adapters[:3]],
        # the snippet: this server's /v1, one of the learner's models, and a key's NAME (never a key)
        "api_base_url": settings.base_url.rstrip("/") + "/v1", "example_model": example,
        "key_name": keys[0].name if keys else None,
    }
