"""Garbage collection set for a long-running server: what exists once the app has started (modules,
routes, templates, the simulations' defaults: ~180,000 objects) is frozen out of the collector's view,
and young collections run less often.

A full collection walked all of those objects on every pass, stopping every thread of the worker for
60-900 ms (measured on the 2-core machine, quiet to busy): the longest stall in a page's latency tail.
"""

import gc

# Young objects collected after this many net allocations (CPython's default: 700). Each request makes
# a few thousand; fewer, larger young passes mean fewer promotions into the old generations.
GEN0_THRESHOLD = 10_000

_frozen = False


def freeze_startup_objects() -> None:
    """Collect once, then freeze what survives; once per process (a test session builds many apps, and
    frozen cycles are never collected, so only the first app's startup objects are frozen)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
