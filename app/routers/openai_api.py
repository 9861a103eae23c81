"""The OpenAI-compatible API under /v1: models and chat completions, for the official `openai` client and
anything else that speaks it. A bearer API key is the only credential; every error is in OpenAI's shape."""

import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse

from app.serving import service
from app.serving.openai_schema import OpenAIError, openai_error_response, parse_chat_request

router = APIRouter(prefix="/v1", tags=["openai"])

# /v1 is called by programs with a key, never by a browser with cookies, so the CSRF check does not apply.
CSRF_EXEMPT = re.compile(r"^/v1(/|$)")


def install_openai_errors(app: FastAPI) -> None:
    """Refusals raised by the /v1 code answer in OpenAI's shape (app.errors does the same for the rest of /v1)."""

    @app.exception_handler(OpenAIError)
    async def _openai_error(_request: Request, exc: OpenAIError):
        return openai_error_response(exc)


@router.get("/models")
async def read_models(request: Request) -> dict:
    """The models this key may use: the allowed bases and its owner's trained adapters."""
    caller = await service.authenticate(request)
    return await service.list_models(request.app, caller)


@router.get("/models/{model_id:path}")
async def read_model(model_id: str, request: Request) -> dict:
    """One model this key may use; anyone else's is a 404."""
    caller = await service.authenticate(request)
    return service.model_object(await service.find_model(request.app, caller, model_id), model_id)


@router.post("/chat/completions")
async def create_chat_completion(request: Request):
    """A chat completion, whole or (stream) as server-sent chunks ending with `data: [DONE]`."""
    caller = await service.authenticate(request)
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise OpenAIError(400, "We could not parse the JSON body of your request. Send a JSON object like "
                               '{"model": "...", "messages": [{"role": "user", "content": "Hi"}]}.') from None
    chat = parse_chat_request(body, caller.limits.max_tokens)
    result = await service.chat_completion(request.app, caller, chat)
    if isinstance(result, dict):
        return result
    return _CompletionStreamResponse(result)


class _CompletionStreamResponse(StreamingResponse):
    """The chunks as server-sent events; the stream's slots are given back however the response ends, a client
    that left before the first byte included (its body iterator then never starts)."""

    def __init__(self, completion: service.StreamedCompletion):
        super().__init__(completion.lines, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.completion = completion

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.completion.close()
