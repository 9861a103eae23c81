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
from app.serving.model_server import Generation, ModelServerUnavailable, get_model_client
from app.serving.openai_schema import ChatRequest, OpenAIError
from app.serving.overrides import ServingLimits, serving_limits

UNAVAILABLE_RETRY_S = 5  # how soon a client should try again while the model server starts or loads a base
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


def _unavailable(error: ModelServerUnavailable) -> OpenAIError:
    return OpenAIError(503, f"{error} Try again in a few seconds.", code="model_unavailable",
                       headers={"Retry-After": str(UNAVAILABLE_RETRY_S)})


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


async def _release(app: FastAPI, caller: Caller) -> None:
    # Shielded: a client that hangs up cancels the stream, and its slot must still be given back.
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(limits.release, app.state.limiter, caller.owner.key_id)


async def chat_completion(app: FastAPI, caller: Caller, chat: ChatRequest) -> dict | AsyncIterator[str]:
    """The chat.completion object, or (stream) the SSE lines of its chunks ending with `data: [DONE]`."""
    model = await find_model(app, caller, chat.model)
    cost = limits.estimated_cost(chat.messages, chat.max_tokens)
    await run_in_threadpool(limits.admit, app.state.limiter, caller.owner.key_id, cost,
                            caller.limits.tokens_per_minute, caller.limits.concurrent_requests)
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    generation = _generation(model, chat, completion_id)
    client = get_model_client(app)
    if not chat.stream:
        try:
            result = await client.generate(generation)
        except ModelServerUnavailable as error:
            raise _unavailable(error) from None
        finally:
            await _release(app, caller)
        return {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": chat.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["text"], "refusal": None},
                         "logprobs": None, "finish_reason": result["finish_reason"]}],
            "usage": _usage(result["prompt_tokens"], result["completion_tokens"]),
            "system_fingerprint": None,
        }
    events = aiter(client.stream(generation))
    try:
        first = await anext(events)  # a model server that is loading answers before any byte is sent: a 503
    except ModelServerUnavailable as error:
        await _release(app, caller)
        raise _unavailable(error) from None
    except BaseException:
        await _release(app, caller)
        raise
    return _chunks(app, caller, chat, completion_id, first, events)


def _sse(payload: dict | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, separators=(',', ':'))}\n\n"


async def _chunks(app: FastAPI, caller: Caller, chat: ChatRequest, completion_id: str, first: dict,
                  events: AsyncIterator[dict]) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": chat.model,
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
            event = await anext(events, None)
            if event is None:
                yield _sse({"error": {"message": "The model server ended the answer early.", "type": "server_error",
                                      "param": None, "code": None}})
                break
        yield _sse("[DONE]")
    except ModelServerUnavailable as error:
        yield _sse({"error": {"message": str(error), "type": "server_error", "param": None,
                              "code": "model_unavailable"}})
        yield _sse("[DONE]")
    finally:
        await _release(app, caller)
