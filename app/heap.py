"""glibc's heap in a long-running server: large blocks get mappings of their own (`steady_heap`, set by
`course serve` before the app starts), and a background thread hands the heap's free pages back to the OS
every TRIM_INTERVAL_S (`start_trimming`: started and stopped by the app's lifespan), so RSS follows the memory
the server uses.
"""

import ctypes
import os
import threading

M_TOP_PAD = -2  # mallopt's parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# Lower than glibc's own starting value (128 KiB), and kept fixed: the caches' entries (finished pages ~22 KiB,
# compressed bodies, simulation figures and bodies of 8-120 KiB) come and go in random sizes and fragmented the
# heap. At 32 KiB the heap's extent still grew 6.1 MB in 4.4 minutes of the soak with the live heap flat; at 8 KiB,
# 2.7 MB (benchmarks/soak/README.md). glibc maps a block only when no free hole fits it and the heap would have to
# grow, so the threshold decides what the heap grows for; a mapping costs a syscall (~2 us). Chapter page A/B:
# server CPU per view unchanged (benchmarks/chapter).
# At 8 KiB the heap still grew ~1 MB a minute in the soak's last third with its live bytes flat (holes between
# the caches' 4-8 kB entries: quiz parts, compressed bodies); at 4 KiB, with no top pad (below), its extent stayed
# within 1 MB over the last 6 minutes (benchmarks/soak/README.md). A block of 4 KiB is a page: mapping it wastes
# at most one page beside it.
MMAP_THRESHOLD_BYTES = 4 * 1024
# glibc grows the heap by what a request needs plus this pad (128 KiB by default), and a block above the threshold
# that fits in the pad is cut from it instead of being mapped: the heap's top crept up a pad at a time.
TOP_PAD_BYTES = 0
# glibc gives each thread that allocates while the others' arenas are busy an arena of its own, up to 8 a core:
# the thread pool's ~10 threads held 11, each with its own free holes (measured in benchmarks/soak).
ARENA_MAX = 2
# A trim takes 1-2 ms (GIL released; an arena is locked only while it is walked). Once a minute, what the
# requests freed into holes piled up for a minute before it went back: a ~5 MB sawtooth over a creep.
TRIM_INTERVAL_S = 10.0


def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 -- present on glibc only (not musl, not macOS)
        return libc
    except (OSError, AttributeError):
        return None


def steady_heap() -> None:
    """On glibc, serve blocks of 4 KiB and more (page bodies, JSON, NumPy arrays, cached fragments) from their own
    mappings rather than grow the heap for them (a free hole that fits still serves one), given back to the OS
    when freed, and grow the heap by no more than a request needs. glibc's default raises the threshold each time
    such a block is freed (up to 32 MB); larger blocks then come from the heap and leave holes in it that it
    keeps: 25-45 MB of free heap, half the growth of RSS, in the soak benchmark (benchmarks/soak). And at most
    ARENA_MAX arenas: the worker's threads share two heaps instead of one each. A value already set in
    MALLOC_MMAP_THRESHOLD_, MALLOC_TOP_PAD_ or MALLOC_ARENA_MAX wins; the environment carries ours to uvicorn's
    spawned workers."""
    libc = _glibc()
    for variable, parameter, value in (("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
                                       ("MALLOC_TOP_PAD_", M_TOP_PAD, TOP_PAD_BYTES),
                                       ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX)):
        if variable in os.environ:
            continue
        os.environ[variable] = str(value)
        if libc is not None:
            libc.mallopt(parameter, value)  # this process: it read the environment already


def trim() -> bool:
    """Give the heap's free pages back to the OS (glibc's malloc_trim(0)); False where there is no glibc.

    Blocks under the mmap threshold (most of a request's strings, dicts, rows) are freed into holes between
    live ones; glibc keeps those pages, so in the soak the free heap crept 7 -> 17 MB in 5 minutes while
    the live heap was flat. malloc_trim(0) returns every whole free page (madvise), wherever in the heap."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)  # ctypes lets go of the GIL meanwhile; each arena is locked only while it is walked
    return True


class Trimmer:
    """A daemon thread that trims every `interval_s` seconds, off the event loop, until `stop()` (the app's
    lifespan starts one and stops it at shutdown, so no thread outlives its app)."""

    def __init__(self, interval_s: float = TRIM_INTERVAL_S):
        self.interval_s = interval_s
        self.trims = 0  # how many trims ran: a test's proof that the thread works
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heap-trimmer", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            trim()
            self.trims += 1

    def start(self) -> "Trimmer":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def start_trimming(interval_s: float = TRIM_INTERVAL_S) -> Trimmer | None:
    """A started Trimmer, or None where there is no glibc to trim."""
    return Trimmer(interval_s).start() if _glibc() is not None else None
