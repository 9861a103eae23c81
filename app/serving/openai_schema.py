"""What /v1 accepts and how it refuses: a chat-completions body checked field by field into a `ChatRequest`,
and errors in OpenAI's shape `{"error": {"message", "type", "param", "code"}}`.

Parameters OpenAI defines that these small models cannot honour are accepted and ignored (IGNORED below);
a name OpenAI does not define is refused with a 400, as OpenAI itself refuses it.
"""

import math
from dataclasses import dataclass

from fastapi.responses import JSONResponse

ROLES = ("system", "developer", "user", "assistant")  # developer is OpenAI's newer name for system
MAX_MESSAGES = 200
MAX_CONTENT_CHARS = 32_000  # all messages together; the small bases' contexts are far shorter anyway
MAX_MODEL_CHARS = 200
MAX_STOP = 4  # OpenAI's limit
MAX_STOP_CHARS = 200
SEED_RANGE = (-(2**63), 2**63 - 1)

# OpenAI's parameters that change nothing here: penalties, logprobs, bookkeeping fields, output formats.
IGNORED = frozenset({
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "metadata", "store",
    "service_tier", "parallel_tool_calls", "reasoning_effort", "prediction", "modalities", "audio",
    "response_format", "web_search_options", "safety_identifier", "prompt_cache_key", "verbosity", "tool_choice",
    "function_call",
})
HANDLED = frozenset({"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "seed",
                     "stop", "stream", "stream_options", "tools", "functions"})

STATUS_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
                404: "invalid_request_error", 405: "invalid_request_error", 409: "invalid_request_error",
                413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
                500: "server_error", 502: "server_error", 503: "server_error"}


class OpenAIError(Exception):
    """A /v1 refusal: status, a sentence, and OpenAI's `param` (the field at fault) and `code`."""

    def __init__(self, status_code: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None, type: str | None = None):
        super().__init__(message)
        self.status_code, self.message, self.param, self.code = status_code, message, param, code
        self.type = type or STATUS_TYPES.get(status_code, "invalid_request_error")
        self.headers = headers or {}


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def openai_error_response(error: OpenAIError) -> JSONResponse:
    return JSONResponse(error_body(error.message, error.type, error.param, error.code),
                        status_code=error.status_code, headers=error.headers)


def is_openai_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict]  # [{"role": "system"|"user"|"assistant", "content": str}]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: list[str]
    stream: bool
    include_usage: bool


def _bad(param: str | None, message: str) -> OpenAIError:
    return OpenAIError(400, message, param=param, code="invalid_value" if param else None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(body: dict, name: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, f"{name}: expected a number, got {type(value).__name__}.")
    if value > high or value < low or (low_open and value == low):
        lower = f"above {low}" if low_open else f"from {low}"
        raise _bad(name, f"{name}: {value} is out of range; use a number {lower} to {high}.")
    return float(value)


def _text_content(content: object, param: str) -> str:
    """A message's text: a string, or OpenAI's list of `{"type": "text", "text": ...}` parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for index, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise _bad(f"{param}[{index}]", f"{param}[{index}]: only text parts "
                                                '({"type": "text", "text": "..."}) are supported here.')
            texts.append(part["text"])
        return "".join(texts)
    raise _bad(param, f"{param}: expected a string (or a list of text parts).")


def _messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "messages: expected a non-empty list of {\"role\", \"content\"} objects.")
    if len(messages) > MAX_MESSAGES:
        raise _bad("messages", f"messages: {len(messages)} messages; at most {MAX_MESSAGES} are accepted.")
    checked, total = [], 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _bad(where, f"{where}: expected an object with a role and a content.")
        role = message.get("role")
        if role not in ROLES:
            raise _bad(f"{where}.role", f"{where}.role: {str(role)[:40]!r} is not supported; use one of "
                                         f"{', '.join(ROLES)}.")
        text = _text_content(message.get("content"), f"{where}.content")
        total += len(text)
        if total > MAX_CONTENT_CHARS:
            raise _bad(f"{where}.content", f"{where}.content: the messages are too long together; at most "
                                           f"{MAX_CONTENT_CHARS:,} characters are accepted.")
        checked.append({"role": "system" if role == "developer" else role, "content": text})
    return checked


def _max_tokens(body: dict, cap: int) -> int:
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    value = body.get(name)
    if value is None:
        return cap
    if not _is_int(value):
        raise _bad(name, f"{name}: expected an integer, got {type(value).__name__}.")
    if not 1 <= value <= cap:
        raise _bad(name, f"{name}: {value} is out of range; this server allows 1 to {cap} "
                         f"(serving_max_tokens).")
    return value


def _stop(body: dict) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _bad("stop", "stop: expected a non-empty string or a list of non-empty strings.")
    if len(stops) > MAX_STOP:
        raise _bad("stop", f"stop: {len(stops)} sequences; at most {MAX_STOP} are accepted.")
    if any(len(s) > MAX_STOP_CHARS for s in stops):
        raise _bad("stop", f"stop: each sequence may have at most {MAX_STOP_CHARS} characters.")
    return stops


def _seed(body: dict) -> int | None:
    seed = body.get("seed")
    if seed is not None and not (_is_int(seed) and SEED_RANGE[0] <= seed <= SEED_RANGE[1]):
        raise _bad("seed", "seed: expected a 64-bit integer.")
    return seed


def _stream(body: dict) -> tuple[bool, bool]:
    stream, options = body.get("stream"), body.get("stream_options")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "stream: expected true or false.")
    if options is None:
        return bool(stream), False
    if not stream:
        raise _bad("stream_options", "stream_options: only allowed when stream is true.")
    if not isinstance(options, dict):
        raise _bad("stream_options", "stream_options: expected an object like {\"include_usage\": true}.")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise _bad("stream_options.include_usage", "stream_options.include_usage: expected true or false.")
    return True, include


def parse_chat_request(body: object, max_tokens_cap: int) -> ChatRequest:
    """The checked request, or an OpenAIError (400) naming the first parameter at fault."""
    if not isinstance(body, dict):
        raise _bad(None, "The request body must be a JSON object.")
    unknown = sorted(set(body) - HANDLED - IGNORED)
    if unknown:
        raise _bad(None, f"Unrecognized request argument supplied: {unknown[0][:60]}")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > MAX_MODEL_CHARS:
        raise _bad("model", "model: expected the name of a model from GET /v1/models.")
    for name in ("tools", "functions"):
        if body.get(name):
            raise _bad(name, f"{name}: the models served here do not call tools.")
    n = body.get("n")
    if n is not None and not (_is_int(n) and n == 1):
        raise _bad("n", "n: only 1 choice per request is supported.")
    messages = _messages(body)
    stream, include_usage = _stream(body)
    return ChatRequest(
        model=model,
        messages=messages,
        max_tokens=_max_tokens(body, max_tokens_cap),
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        seed=_seed(body),
        stop=_stop(body),
        stream=stream,
        include_usage=include_usage,
    )
