"""What a caller asks the model server for and what it gets back, with the one shape check every entry point uses.

`parse_request` turns a JSON body (`POST /generate`, or Ray Serve's request) into a `GenerateRequest` or raises
`RequestError` naming the field and its allowed range. No torch here: the app's tests may import it.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field

ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 200
MAX_CONTENT_CHARS = 32_000
MAX_TOKENS_LIMIT = 4096
MAX_STOP = 4
MAX_STOP_CHARS = 100


class RequestError(ValueError):
    """A request the server will not run, with a message for the caller (HTTP 400)."""


class BaseUnavailable(RuntimeError):
    """The base failed to load (HTTP 503); the message says why."""


@dataclass(frozen=True)
class GenerateRequest:
    request_id: str
    base: str
    messages: list[dict]
    adapter_id: str | None = None
    adapter_path: str | None = None
    max_tokens: int = 64
    temperature: float = 1.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self):
        if (self.adapter_id is None) != (self.adapter_path is None):
            raise RequestError("adapter needs both an id and a path")


@dataclass
class GenerateResult:
    request_id: str
    text: str
    finish_reason: str  # "stop" (eos or a stop string) | "length" (max_tokens or the base's context)
    prompt_tokens: int
    completion_tokens: int
    batch: dict = field(default_factory=dict)  # {"id", "adapter", "size"}
    queue_s: float = 0.0
    total_s: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def _number(body: dict, name: str, default, lo: float, hi: float, integer: bool = False, lo_open: bool = False):
    value = body.get(name, default)
    if value is None:
        value = default
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise RequestError(f"{name} should be {kind}, got {value!r}")
    if value > hi or value < lo or (lo_open and value == lo):
        low = f"above {lo}" if lo_open else f"at least {lo}"
        raise RequestError(f"{name} should be {low} and at most {hi}, got {value}")
    return value


def _messages(value) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise RequestError("messages should be a non-empty list of {role, content} objects")
    if len(value) > MAX_MESSAGES:
        raise RequestError(f"messages holds {len(value)} messages; at most {MAX_MESSAGES}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise RequestError(f"messages[{i}] should be an object with role and content")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise RequestError(f"messages[{i}].role should be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise RequestError(f"messages[{i}].content should be a string")
        if len(content) > MAX_CONTENT_CHARS:
            raise RequestError(f"messages[{i}].content is {len(content)} characters; at most {MAX_CONTENT_CHARS}")
        out.append({"role": role, "content": content})
    return out


def _stop(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise RequestError("stop should be a list of non-empty strings")
    if len(value) > MAX_STOP or any(len(s) > MAX_STOP_CHARS for s in value):
        raise RequestError(f"stop holds at most {MAX_STOP} strings of at most {MAX_STOP_CHARS} characters")
    return tuple(value)


def _adapter(value) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"] \
            or not isinstance(value.get("path"), str) or not value["path"]:
        raise RequestError('adapter should be null or {"id": "...", "path": "/abs/run_dir/adapter"}')
    return value["id"], value["path"]


def parse_request(body) -> GenerateRequest:
    """The `POST /generate` body as a request; unknown fields are ignored, as OpenAI's API ignores them."""
    if not isinstance(body, dict):
        raise RequestError("the body should be a JSON object")
    base = body.get("base")
    if not isinstance(base, str) or not base:
        raise RequestError("base should be a base name such as 'tiny'")
    request_id = body.get("request_id") or uuid.uuid4().hex
    if not isinstance(request_id, str) or len(request_id) > 200:
        raise RequestError("request_id should be a string of at most 200 characters")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError(f"seed should be an integer or null, got {seed!r}")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise RequestError("stream should be true or false")
    adapter_id, adapter_path = _adapter(body.get("adapter"))
    return GenerateRequest(
        request_id=request_id, base=base, messages=_messages(body.get("messages")),
        adapter_id=adapter_id, adapter_path=adapter_path,
        max_tokens=_number(body, "max_tokens", 64, 1, MAX_TOKENS_LIMIT, integer=True),
        temperature=float(_number(body, "temperature", 1.0, 0, 2)),
        top_p=float(_number(body, "top_p", 1.0, 0, 1, lo_open=True)),
        seed=seed, stop=_stop(body.get("stop")),
    )
