"""The serving engine: bases loaded once, adapter LRUs, and a scheduler thread that batches requests by adapter.

Callers (the HTTP server's threads, Ray Serve, tests) submit requests; the scheduler takes the oldest waiting
request, gathers every waiting request for the same (base, adapter), and runs one batched decode for them
(labs.serving.decode), then the next group. Events reach each caller through its own queue, as produced.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

from labs import LabError
from labs.serving.adapters import LoadedBase
from labs.serving.requests import BaseUnavailable, GenerateRequest, GenerateResult, RequestError

log = logging.getLogger("labs.serving")

RETRY_FAILED_BASE_S = 30.0  # a base that failed to load is retried at most this often, not on every request


@dataclass
class _BaseSlot:
    state: str = "loading"  # loading | ready | failed
    error: str | None = None
    loaded: LoadedBase | None = None
    failed_at: float = 0.0
    load_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Ticket:
    request: GenerateRequest
    prompt_ids: list[int]
    max_tokens: int  # the request's, cut to what fits in the base's context
    submitted: float = field(default_factory=time.time)
    events: queue.Queue = field(default_factory=queue.Queue)
    cancelled: bool = False
    finished: bool = False

    @property
    def group(self) -> tuple[str, str | None]:
        return self.request.base, self.request.adapter_id


class ServingEngine:
    def __init__(self, max_adapters: int = 8, max_batch_size: int = 32, batch_wait_s: float = 0.005,
                 device: str = "auto"):
        import torch  # noqa: F401  (the engine's cost is paid here, not at the first request)

        if max_adapters < 1:
            raise ValueError(f"max_adapters should be at least 1, got {max_adapters}")
        self.max_adapters = max_adapters
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_s  # how long the first waiting request waits for company
        self.device = device
        self._bases: dict[str, _BaseSlot] = {}
        self._bases_lock = threading.Lock()
        self._pending: list[_Ticket] = []
        self._cv = threading.Condition()
        self._batches: deque[dict] = deque(maxlen=200)
        self._next_batch_id = 1
        self._closed = False
        self._thread = threading.Thread(target=self._schedule, name="serving-scheduler", daemon=True)
        self._thread.start()

    # --- bases and adapters -------------------------------------------------------------------------------------

    def ensure_base(self, base: str) -> LoadedBase:
        """Load `base` once (blocking; concurrent callers wait for the same load). Raises BaseUnavailable."""
        with self._bases_lock:
            slot = self._bases.setdefault(base, _BaseSlot())
        if slot.state == "ready":
            return slot.loaded
        with slot.load_lock:
            if slot.state == "ready":
                return slot.loaded
            if slot.state == "failed" and time.time() - slot.failed_at < RETRY_FAILED_BASE_S:
                raise BaseUnavailable(f"base {base!r} failed to load: {slot.error}")
            slot.state, slot.error = "loading", None
            t0 = time.perf_counter()
            try:
                slot.loaded = LoadedBase.load(base, self.max_adapters, self.device)
            except Exception as exc:  # any failure becomes a 503 with its message, never a traceback
                slot.state, slot.failed_at = "failed", time.time()
                slot.error = str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
                log.warning("base %s failed to load: %s", base, slot.error)
                raise BaseUnavailable(f"base {base!r} failed to load: {slot.error}") from exc
            slot.state = "ready"
            log.info("base %s loaded in %.1f s", base, time.perf_counter() - t0)
            return slot.loaded

    def install_base(self, name: str, model, tokenizer) -> None:
        """Serve an already loaded model under `name` (the benchmark's merged copy)."""
        model.eval()
        with self._bases_lock:
            self._bases[name] = _BaseSlot(state="ready", loaded=LoadedBase(name, model, tokenizer, self.max_adapters))

    def ensure_adapter(self, base: str, adapter_id: str, adapter_path: str) -> None:
        """Load `adapter_id` into `base`'s LRU (blocking; waits for a batch on that base to end). RequestError if
        the path holds no adapter for this base."""
        loaded = self.ensure_base(base)
        with loaded.lock:
            for gone in loaded.ensure_adapter(adapter_id, adapter_path):
                log.info("adapter %s evicted from %s", gone, base)

    def unload_adapter(self, adapter_id: str) -> bool:
        """Remove `adapter_id` from every base's LRU; True if it was loaded anywhere."""
        unloaded = False
        for slot in list(self._bases.values()):
            if slot.loaded is not None:
                with slot.loaded.lock:
                    unloaded = slot.loaded.delete_adapter(adapter_id) or unloaded
        return unloaded

    # --- requests -----------------------------------------------------------------------------------------------

    def submit(self, request: GenerateRequest) -> _Ticket:
        """Check, load what the request needs, tokenize and queue it. Raises RequestError or BaseUnavailable."""
        from labs.evaluate import render_prompts

        loaded = self.ensure_base(request.base)
        if request.adapter_id is not None:
            self.ensure_adapter(request.base, request.adapter_id, request.adapter_path)
        prompt = render_prompts(loaded.tokenizer, [request.messages])[0]
        with loaded.lock:  # a fast tokenizer must not encode on two threads at once
            ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if len(ids) >= loaded.context:
            raise RequestError(f"messages are {len(ids)} tokens; base {request.base!r} reads at most "
                               f"{loaded.context} including the answer")
        ticket = _Ticket(request, ids, min(request.max_tokens, loaded.context - len(ids)))
        with self._cv:
            if self._closed:
                raise BaseUnavailable("the model server is shutting down")
            self._pending.append(ticket)
            self._cv.notify()
        return ticket

    def generate_stream(self, request: GenerateRequest) -> Iterator[dict]:
        """Queue `request` now (errors raise here) and return its events: deltas, then done or error.
        Closing the iterator early cancels the request's row."""
        return self._events(self.submit(request))

    def _events(self, ticket: _Ticket) -> Iterator[dict]:
        try:
            while True:
                event = ticket.events.get()
                yield event
                if event["type"] != "delta":
                    return
        finally:
            ticket.cancelled = not ticket.finished  # the caller went away: its row stops at the next step

    def generate(self, request: GenerateRequest) -> GenerateResult:
        """Blocking: the whole answer, batched with whatever else is waiting for the same adapter."""
        parts: list[str] = []
        for event in self.generate_stream(request):
            if event["type"] == "delta":
                parts.append(event["text"])
            elif event["type"] == "error":
                raise RuntimeError(event["message"])
            else:
                return GenerateResult(request.request_id, "".join(parts), event["finish_reason"],
                                      event["prompt_tokens"], event["completion_tokens"], event["batch"],
                                      event["queue_s"], event["total_s"])
        raise RuntimeError("the request ended without a result")

    # --- what the server reports --------------------------------------------------------------------------------

    def health(self) -> dict:
        bases = {}
        for name, slot in list(self._bases.items()):
            loaded = slot.loaded
            bases[name] = {"state": slot.state, "error": slot.error,
                           "adapters": list(loaded.adapters) if loaded else [],
                           "memory_mb": loaded.memory_mb() if loaded else 0.0}
        return {"bases": bases, "max_adapters": self.max_adapters}

    def recent_batches(self, limit: int = 20) -> list[dict]:
        return list(self._batches)[::-1][:limit]

    def close(self) -> None:
        """Stop the scheduler after its current batch; waiting requests end with an error event."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout=60)
        for ticket in self._pending:
            ticket.events.put({"type": "error", "message": "the model server is shutting down"})
        self._pending.clear()

    # --- the scheduler thread -----------------------------------------------------------------------------------

    def _schedule(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                # a short window lets requests that arrive together share one decode
                while not self._closed and (wait := self._pending[0].submitted + self.batch_wait_s - time.time()) > 0:
                    self._cv.wait(wait)
                self._pending = [t for t in self._pending if not t.cancelled]
                if not self._pending:
                    continue
                group = self._pending[0].group
                batch = [t for t in self._pending if t.group == group][: self.max_batch_size]
                self._pending = [t for t in self._pending if t not in batch]
            self._run_batch(batch)

    def _run_batch(self, tickets: list[_Ticket]) -> None:
        from labs.serving.decode import decode_batch

        base, adapter_id = tickets[0].group
        loaded = self._bases[base].loaded
        started = time.time()
        # recorded up front and completed as rows finish, so that a caller holding its result sees its batch
        record = {"id": self._next_batch_id, "base": base, "adapter": adapter_id,
                  "request_ids": [t.request.request_id for t in tickets], "size": len(tickets),
                  "started_at": started, "duration_s": 0.0, "tokens": 0}
        self._next_batch_id += 1
        self._batches.append(record)
        rows = [self._row(t, record) for t in tickets]
        try:
            with loaded.lock:
                if adapter_id is not None:  # evicted since it was queued: load it again
                    loaded.ensure_adapter(adapter_id, tickets[0].request.adapter_path)
                with loaded.activate(adapter_id) as model:
                    decode_batch(model, loaded.tokenizer, rows, loaded.eos_ids, loaded.tokenizer.pad_token_id)
        except Exception as exc:  # one bad batch must not stop the scheduler
            log.exception("batch %d failed", record["id"])
            message = str(exc) if isinstance(exc, (RequestError, LabError)) else \
                f"generation failed: {type(exc).__name__}: {exc}"
            for t, r in zip(tickets, rows):
                if r.finish_reason is None:
                    t.finished = True
                    t.events.put({"type": "error", "message": message})
        record["duration_s"] = round(time.time() - started, 4)

    @staticmethod
    def _row(ticket: _Ticket, record: dict):
        from labs.serving.decode import Row

        req = ticket.request
        batch = {"id": record["id"], "adapter": record["adapter"], "size": record["size"]}

        def on_delta(text: str) -> None:
            ticket.events.put({"type": "delta", "text": text})

        def on_finish(reason: str) -> None:
            now = time.time()
            record["tokens"] += len(row.tokens)
            record["duration_s"] = round(now - record["started_at"], 4)
            if reason == "cancelled":
                return
            ticket.finished = True
            ticket.events.put({"type": "done", "finish_reason": reason, "prompt_tokens": len(ticket.prompt_ids),
                               "completion_tokens": len(row.tokens), "batch": batch,
                               "queue_s": round(record["started_at"] - ticket.submitted, 4),
                               "total_s": round(now - ticket.submitted, 4)})

        row = Row(ticket.prompt_ids, ticket.max_tokens, req.temperature, req.top_p, req.seed, req.stop,
                  on_delta=on_delta, on_finish=on_finish, cancelled=lambda: ticket.cancelled)
        return row
