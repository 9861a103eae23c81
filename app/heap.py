"""glibc's heap in a long-running server: large blocks get mappings of their own (`steady_heap`, set by
`course serve` before the app starts), and a background thread hands the heap's free pages back to the OS
once a minute (`start_trimming`, from the app's lifespan), so RSS follows the memory the server uses.
"""

import ctypes
import os
import threading

M_MMAP_THRESHOLD = -3  # mallopt's parameter numbers (malloc.h)
M_ARENA_MAX = -8
# Lower than glibc's own starting value (128 KiB), and kept fixed: the caches' entries of 32-128 KiB
# (simulation figures and bodies, compressed pages) come and go in random sizes and left the heap fragmented.
MMAP_THRESHOLD_BYTES = 32 * 1024
# glibc gives each thread that allocates while the others' arenas are busy an arena of its own, up to 8 a core:
# the thread pool's ~10 threads held 11, each with its own free holes (measured in benchmarks/soak).
ARENA_MAX = 2
TRIM_INTERVAL_S = 60.0

_trimmer: threading.Thread | None = None
_trimmer_lock = threading.Lock()


def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 -- present on glibc only (not musl, not macOS)
        return libc
    except (OSError, AttributeError):
        return None


def steady_heap() -> None:
    """On glibc, serve blocks of 32 KiB and more (page bodies, JSON, NumPy arrays) from their own mappings,
    given back to the OS when freed. glibc's default raises that threshold each time such a block is freed
    (up to 32 MB); larger blocks then come from the heap and leave holes in it that it keeps: 25-45 MB of
    free heap, half the growth of RSS, in the soak benchmark (benchmarks/soak). And at most ARENA_MAX
    arenas: the worker's threads share two heaps instead of one each. A value already set in
    MALLOC_MMAP_THRESHOLD_ or MALLOC_ARENA_MAX wins; the environment carries ours to uvicorn's spawned workers."""
    libc = _glibc()
    for variable, parameter, value in (("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
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


def start_trimming(interval_s: float = TRIM_INTERVAL_S) -> bool:
    """Once per process: a daemon thread that trims every `interval_s` seconds, off the event loop."""
    global _trimmer
    with _trimmer_lock:
        if _trimmer is not None:
            return True
        if _glibc() is None:
            return False

        def loop() -> None:
            stop = threading.Event()  # never set: the thread lives as long as the process
            while not stop.wait(interval_s):
                trim()

        _trimmer = threading.Thread(target=loop, name="heap-trimmer", daemon=True)
        _trimmer.start()
        return True
