"""Finished chapter pages per learner, kept while nothing the page shows of the learner has changed.

A database trigger (migration 0008) bumps `learners.content_version` on every write to the learner's quiz
answers, exercise attempts, runs, sweeps and API keys, so one small read per view tells any worker whether its copy
is current: a learner's own write shows on the next view, whichever worker wrote it. A learner with a run
queued or running is never cached (the page checks the run's files for news). The cache is bounded by the
bytes it holds; the least recently used pages go first.
"""

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection

from sqlalchemy.orm import Session, sessionmaker

from app.db import marks, read_rows
from app.lab_runs.models import ACTIVE

# ~170 chapter pages of ~70,000 characters: one character outside Latin-1 ("−", "≈", "→") makes Python keep the
# whole page at 2 bytes a character, so a page is counted by what it occupies (sys.getsizeof), not by its length.
CACHE_BYTES = 24_000_000

# Every chapter view asks this, so it is plain SQL on a bare connection (app.db.read_rows). The account column
# lets an anonymous view learn whether its learner was claimed (app.identity) in the same read.
_LEARNERS = ("SELECT id, content_version, EXISTS (SELECT 1 FROM runs WHERE runs.learner_id = learners.id AND "
             f"runs.status IN ({', '.join(repr(status) for status in ACTIVE)})), account_id FROM learners "
             "WHERE id IN ({marks})")


def learner_rows(factory: sessionmaker[Session], learner_ids: Collection[str]) -> list[tuple]:
    """(id, content version, has an active run, claiming account id) of each learner that has a row."""
    return read_rows(factory, _LEARNERS.format(marks=marks(learner_ids)), list(learner_ids)) if learner_ids else []


def versions_of(rows: list[tuple]) -> tuple | None:
    """The learners' content versions from `learner_rows` (a cache key part), or None while any of them has an
    active run."""
    if any(active for _, _, active, _ in rows):
        return None
    return tuple(sorted((learner, version) for learner, version, _, _ in rows))


def content_versions(factory: sessionmaker[Session], learner_ids: Collection[str]) -> tuple | None:
    """The learners' content versions (a cache key part), or None while any of them has an active run."""
    return versions_of(learner_rows(factory, learner_ids))


class PageCache:
    """key → page (or any value `sizeof` measures), least recently used first out once they occupy more than
    `max_bytes` bytes.

    A page may carry a `version` (the learners' content versions): a get for another version misses and drops
    the page, and a put replaces it, so a key holds one page, never its stale versions too. Keyed by the
    versions instead, every quiz answer left a dead page behind: the soak filled all 24 MB with them."""

    def __init__(self, max_bytes: int = CACHE_BYTES, sizeof: Callable[[object], int] = sys.getsizeof):
        self.max_bytes = max_bytes
        self._sizeof = sizeof  # what an entry occupies; a page's sys.getsizeof by default
        self._pages: OrderedDict[tuple, tuple[object, object]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # pages render in the thread pool

    def get(self, key: tuple, version: object = None):
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            if found[0] != version:
                del self._pages[key]
                self._bytes -= self._sizeof(found[1])
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(self, key: tuple, page, version: object = None) -> None:
        with self._lock:
            old = self._pages.pop(key, None)
            self._bytes += self._sizeof(page) - (self._sizeof(old[1]) if old is not None else 0)
            self._pages[key] = (version, page)
            while self._bytes > self.max_bytes and self._pages:
                self._bytes -= self._sizeof(self._pages.popitem(last=False)[1][1])

    @property
    def bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._pages)
