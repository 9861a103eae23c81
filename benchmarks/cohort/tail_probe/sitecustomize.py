"""Probes for benchmarks/cohort/tail.py, loaded into the server it starts (this folder leads its PYTHONPATH):
garbage-collection pauses, each write transaction's wait for its connection and lock (SQLite's BEGIN IMMEDIATE)
and its length, and how late a thread that sleeps 5 ms wakes (the CPU and the GIL taken by others). Appended
once a second to $COHORT_TAIL_PROBE_DIR/<pid>.jsonl as [wall-clock start, what, milliseconds]. Inert unless
that variable is set; never part of a served app.
"""

import gc
import json
import os
import threading
import time
from contextlib import contextmanager

OUT_DIR = os.environ.get("COHORT_TAIL_PROBE_DIR")
WAKE_EVERY_S = 0.005


def _install(out_dir: str) -> None:
    events: list[tuple[float, str, float]] = []
    lock = threading.Lock()
    collecting: dict[str, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            collecting.update(perf=time.perf_counter(), wall=time.time())
        elif "perf" in collecting:
            pause_ms = (time.perf_counter() - collecting.pop("perf")) * 1000
            with lock:
                events.append((collecting["wall"], f"gc_pause_gen{info['generation']}", round(pause_ms, 2)))

    gc.callbacks.append(on_gc)

    import app.db  # before any module binds bare_transaction by name (sitecustomize runs before the app loads)

    original = app.db.bare_transaction

    @contextmanager
    def timed(factory):
        wall, began = time.time(), time.perf_counter()
        with original(factory) as run:
            locked = time.perf_counter()
            yield run
        with lock:
            events.append((wall, "write_wait_for_lock", round((locked - began) * 1000, 2)))
            events.append((wall, "write_transaction", round((time.perf_counter() - began) * 1000, 2)))

    app.db.bare_transaction = timed

    def wake_lag() -> None:
        while True:
            wall, began = time.time(), time.perf_counter()
            time.sleep(WAKE_EVERY_S)
            late_ms = (time.perf_counter() - began - WAKE_EVERY_S) * 1000
            if late_ms > 1:
                with lock:
                    events.append((wall, "thread_woke_late", round(late_ms, 2)))

    def write_out() -> None:
        path = os.path.join(out_dir, f"{os.getpid()}.jsonl")
        while True:
            time.sleep(1)
            with lock:
                batch = events[:]
                events.clear()
            with open(path, "a") as out:
                out.writelines(json.dumps(event) + "\n" for event in batch)

    for target in (wake_lag, write_out):
        threading.Thread(target=target, daemon=True, name=f"tail-probe-{target.__name__}").start()


if OUT_DIR:
    _install(OUT_DIR)
