"""The /v1 logic: who the key acts for, which models it may use, and a chat completion (whole, or streamed as
OpenAI's chunks) from the model server. Database work runs in the thread pool, model calls are async.
"""

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from app.serving import limits
from app.serving.catalog import ServedModel, resolve_model, servable_models
from app.serving.keys import KeyOwner, authenticate_key
from app.serving.model_server import Generation, ModelServerRejected, ModelServerUnavailable, get_model_client
from app.serving.openai_schema import ChatRequest, OpenAIError
from app.serving.overrides import ServingLimits, serving_limits
from app.serving.usage import record_served

AUTH_HINT = "Send your key in an Authorization header: 'Authorization: Bearer ftp-...'. Create one on /account/keys."


@dataclass(frozen=True)
class Caller:
    owner: KeyOwner
    limits: ServingLimits


def _invalid_key(message: str) -> OpenAIError:
    return OpenAIError(401, message, code="invalid_api_key")


def _caller(app: FastAPI, presented: str) -> Caller | None:
    owner = authenticate_key(app.state.sessions, presented)
    return None if owner is None else Caller(owner, serving_limits(app.state.sessions, app.state.settings))


async def authenticate(request: Request) -> Caller:
    """The caller of a /v1 request from its bearer key (cookies count for nothing here), or a 401."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise _invalid_key(f"You didn't provide an API key. {AUTH_HINT}")
    caller = await run_in_threadpool(_caller, request.app, presented)
    if caller is None:
        shown = presented[:8] + "..." if len(presented) > 8 else "..."
        raise _invalid_key(f"Incorrect or revoked API key provided: {shown}. {AUTH_HINT}")
    return caller


def model_object(model: ServedModel, name: str | None = None) -> dict:
    return {"id": name or model.id, "object": "model", "created": model.created, "owned_by": model.owned_by}


async def list_models(app: FastAPI, caller: Caller) -> dict:
    """Every model the key may use: each under its id, and again under each name its learner gave it."""
    models = await run_in_threadpool(servable_models, app.state.sessions, caller.owner.learner_ids,
                                     app.state.settings)
    data = [model_object(model, name) for model in models for name in (model.id, *model.aliases)]
    return {"object": "list", "data": data}


async def find_model(app: FastAPI, caller: Caller, name: str) -> ServedModel:
    """The model called `name` if the key may use it; anyone else's is a 404 exactly like an unknown one."""
    model = await run_in_threadpool(resolve_model, app.state.sessions, caller.owner.learner_ids, name,
                                    app.state.settings)
    if model is None:
        raise OpenAIError(404, f"The model `{name[:200]}` does not exist or you do not have access to it. "
                               "GET /v1/models lists yours.", param="model", code="model_not_found")
    return model


def _generation(model: ServedModel, chat: ChatRequest, request_id: str) -> Generation:
    return Generation(base=model.base, adapter_id=model.run_id, adapter_path=model.adapter_path,
                      messages=chat.messages, max_tokens=chat.max_tokens, temperature=chat.temperature,
                      top_p=chat.top_p, seed=chat.seed, stop=chat.stop, request_id=request_id)


def _refusal(error: Exception) -> OpenAIError:
    """The model server's refusal in OpenAI's shape: 503 with Retry-After while it starts or loads, 400 for a
    request it found wrong (the checks here should have caught it first)."""
    if isinstance(error, ModelServerRejected):
        return OpenAIError(400, f"The model server refused the request: {error}", code="invalid_value")
    return OpenAIError(503, error.message, code="model_unavailable",
                       headers={"Retry-After": str(max(1, int(error.retry_after_s)))})


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


async def _release(app: FastAPI, caller: Caller) -> None:
    # Shielded: a client that hangs up cancels the stream, and its slot must still be given back.
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(limits.release, app.state.limiter, caller.owner.key_id)


def _admit(app: FastAPI, caller: Caller, model: ServedModel, cost: int) -> None:
    limits.admit(app.state.limiter, caller.owner.key_id, cost, caller.limits.tokens_per_minute,
                 caller.limits.concurrent_requests)
    try:
        if model.run_id:
            record_served(app.state.sessions, model.run_id)
    except Exception:
        limits.release(app.state.limiter, caller.owner.key_id)
        raise


async def chat_completion(app: FastAPI, caller: Caller, chat: ChatRequest) -> "dict | StreamedCompletion":
    """The chat.completion object, or (stream) a StreamedCompletion whose lines end with `data: [DONE]`."""
    model = await find_model(app, caller, chat.model)
    await run_in_threadpool(_admit, app, caller, model, limits.estimated_cost(chat.messages, chat.max_tokens))
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    generation = _generation(model, chat, completion_id)
    client = get_model_client(app)
    if not chat.stream:
        try:
            result = await client.generate(generation)
        except (ModelServerUnavailable, ModelServerRejected) as error:
            raise _refusal(error) from None
        finally:
            await _release(app, caller)
        return {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model.id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["text"], "refusal": None},
                         "logprobs": None, "finish_reason": result["finish_reason"]}],
            "usage": _usage(result["prompt_tokens"], result["completion_tokens"]),
            "system_fingerprint": None,
        }
    completion = StreamedCompletion(app, caller)
    if not await app.state.event_streams.open(caller.owner.stream_owner, completion):
        await _release(app, caller)
        raise OpenAIError(429, f"You have {app.state.event_streams.per_owner} streams open already, the most allowed "
                               "(max_event_streams_per_owner, shared with the lab pages' event streams); close one "
                               "first.", code="rate_limit_exceeded", type="requests", headers={"Retry-After": "1"})
    completion.events = aiter(client.stream(generation))
    try:
        first = await anext(completion.events)  # a model server that is loading answers before any byte: a 503
    except (ModelServerUnavailable, ModelServerRejected) as error:
        await completion.close()
        raise _refusal(error) from None
    except BaseException:
        await completion.close()
        raise
    completion.lines = _chunks(completion, chat, model.id, completion_id, first)
    return completion


class StreamedCompletion:
    """A streamed chat completion: its SSE `lines`, and `close`, which gives back what the stream holds (the key's
    in-flight slot, the owner's stream slot, the model server's stream) exactly once. The route awaits `close`
    after the response however it ended: a client that leaves before the first byte means `lines` never starts,
    so its own `finally` never runs and the slots would stay taken until they expire (10 minutes)."""

    def __init__(self, app: FastAPI, caller: Caller):
        self.app, self.caller = app, caller
        self.events: AsyncIterator[dict] | None = None
        self.lines: AsyncIterator[str] | None = None
        self._closed = False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Shielded: a client that hangs up cancels the response, and the slots must still be given back.
        with anyio.CancelScope(shield=True):
            try:
                if self.events is not None:  # closing it tells the model server the row may stop decoding
                    await self.events.aclose()
            finally:
                self.app.state.event_streams.close(self.caller.owner.stream_owner, self)
                await _release(self.app, self.caller)


def _sse(payload: dict | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, separators=(',', ':'))}\n\n"


async def _chunks(completion: StreamedCompletion, chat: ChatRequest, model_id: str, completion_id: str,
                  first: dict) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model_id,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        return body | ({"usage": None} if chat.include_usage else {})

    try:
        yield _sse(chunk({"role": "assistant", "content": ""}))
        event = first
        while True:
            if event["type"] == "delta" and event.get("text"):
                yield _sse(chunk({"content": event["text"]}))
            elif event["type"] == "done":
                yield _sse(chunk({}, event["finish_reason"]))
                if chat.include_usage:
                    usage = _usage(event["prompt_tokens"], event["completion_tokens"])
                    yield _sse({**chunk({}), "choices": [], "usage": usage})
                break
            elif event["type"] == "error":
                yield _sse({"error": {"message": event.get("message", "The model server failed."),
                                      "type": "server_error", "param": None, "code": None}})
                break
            event = await anext(completion.events, None)
            if event is None:
                yield _sse({"error": {"message": "The model server ended the answer early.", "type": "server_error",
                                      "param": None, "code": None}})
                break
        yield _sse("[DONE]")
    finally:
        await completion.close()
