"""Chapter visits without a write on every view: a learner's first view of a chapter (in this process)
is written at once, so "opened" shows on every page and dashboard straight away; each later view only
bumps a count in memory that a background thread adds to the database about once a second, and once
more when the server stops. A page view therefore never queues behind another request's write. A crash
(not a stop) can lose at most the last second's repeat views, never a first one.
"""

import threading
from collections import Counter, OrderedDict

from sqlalchemy.orm import Session, sessionmaker

from app.progress import record_visits

FLUSH_INTERVAL_S = 1.0
REMEMBERED_PAIRS = 200_000  # (learner, chapter) pairs known to have a row; ~40 MB at worst, LRU beyond


class VisitRecorder:
    """Counts chapter views for one process; `stop()` writes what is still pending."""

    def __init__(self, sessions: sessionmaker[Session], flush_interval_s: float = FLUSH_INTERVAL_S):
        self._sessions = sessions
        self._interval = flush_interval_s
        self._lock = threading.Lock()
        self._written: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._pending: Counter[tuple[str, str]] = Counter()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, learner_id: str, chapter_slug: str) -> None:
        key = (learner_id, chapter_slug)
        with self._lock:
            if key in self._written:
                self._written.move_to_end(key)
                self._pending[key] += 1
                self._start_flusher()
                return
        record_visits(self._sessions, {key: 1})
        with self._lock:
            self._written[key] = None
            if len(self._written) > REMEMBERED_PAIRS:
                self._written.popitem(last=False)

    def flush(self) -> None:
        """Add the pending counts to the database in one transaction (kept for the next try on failure)."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            record_visits(self._sessions, pending)
        except Exception:
            with self._lock:
                self._pending.update(pending)
            raise

    def stop(self) -> None:
        """Stop the flusher and write what is pending (at server shutdown); a later view starts it again."""
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.flush()
        with self._lock:
            self._thread, self._stopping = None, threading.Event()

    def _start_flusher(self) -> None:
        # Started on the first buffered view, so an app that never sees a repeat view has no thread.
        if self._thread is None:
            self._thread = threading.Thread(target=self._flush_until_stopped, name="visit-flusher", daemon=True)
            self._thread.start()

    def _flush_until_stopped(self) -> None:
        stopping = self._stopping
        while not stopping.wait(self._interval):
            try:
                self.flush()
            except Exception:  # the database is away for a moment; the counts wait for the next round
                pass
