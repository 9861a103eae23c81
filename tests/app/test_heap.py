"""The server's glibc heap: large blocks get mappings of their own, and the free pages left between live
blocks go back to the OS within a trim interval. Each check runs in a fresh interpreter, since the
settings are process-wide."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# glibc's malloc statistics and allocator, by ctypes, in the checks' fresh interpreters.
MALLINFO = """
import ctypes
from app.heap import M_MMAP_THRESHOLD, steady_heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
"""

HEAP_CHECK = MALLINFO + """
if STEADY:
    steady_heap()
libc.free(libc.malloc(4_000_000))  # freeing a mapped 4 MB block: glibc's default now raises its threshold
before = libc.mallinfo2().hblkhd
# glibc maps a block only when no free hole fits it and the heap would have to grow: 24 MB of them run out of holes.
blocks = [libc.malloc(SIZE) for _ in range(24_000_000 // SIZE)]
print(libc.mallinfo2().hblkhd - before >= 12_000_000)  # did most of them get mappings of their own?
"""

# 30 MB of small blocks freed below one that stays: a hole glibc keeps (only the heap's top is trimmed by
# itself). The script prints how much RSS fell between the frees and a second later.
TRIM_CHECK = """
import ctypes, time
from app.heap import start_trimming

def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(2000) for _ in range(15_000)]
for block in blocks:
    ctypes.memset(block, 1, 2000)
kept = libc.malloc(2000)
for block in blocks:
    libc.free(block)
if TRIMMING:
    start_trimming(interval_s=0.2)
freed = rss_mb()
time.sleep(1)
print(round(freed - rss_mb(), 1))
"""


# Small blocks grow the heap and a 6 kB block (a quiz part, a compressed body) comes after each few: with glibc's
# 128 KiB top pad, each growth leaves room the 6 kB blocks are cut from, so the heap's top creeps up with them.
PAD_CHECK = MALLINFO + """
if STEADY:
    steady_heap()
else:
    libc.mallopt(M_MMAP_THRESHOLD, 4096)  # the same threshold, glibc's pad
before = libc.mallinfo2().hblkhd
blocks = []
for _ in range(4000):
    blocks += [libc.malloc(1000) for _ in range(4)]
    blocks.append(libc.malloc(6000))
print(libc.mallinfo2().hblkhd - before >= 0.8 * 4000 * 8192)  # most 6 kB blocks mapped (8 KiB each)?
"""


def _run(script: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# 12 kB: a finished page or a compressed body, which fragmented the heap below the old 32 kB threshold; 5 kB: a
# quiz part, which did below the old 8 kB one.
@pytest.mark.parametrize("size", [1_000_000, 12_000, 5_000])
@pytest.mark.parametrize("steady", [True, False])
def test_course_serve_keeps_large_blocks_out_of_the_heap_so_freeing_them_gives_memory_back(steady, size):
    script = HEAP_CHECK.replace("STEADY", str(steady)).replace("SIZE", str(size))
    assert _run(script) == str(steady)  # glibc's default keeps it in the heap


@pytest.mark.parametrize("steady", [True, False])
def test_course_serve_grows_the_heap_by_no_more_than_it_needs_so_blocks_over_the_threshold_get_mappings(steady):
    assert _run(PAD_CHECK.replace("STEADY", str(steady))) == str(steady)


def test_the_trimmer_gives_free_pages_between_live_blocks_back_to_the_os_within_its_interval():
    assert float(_run(TRIM_CHECK.replace("TRIMMING", "True"))) > 20


def test_without_the_trimmer_glibc_keeps_those_pages():
    assert float(_run(TRIM_CHECK.replace("TRIMMING", "False"))) < 5



# Eight threads each allocate while the others are alive (as the thread pool's threads do under load); glibc's
# malloc_stats() lists one "Arena N:" per arena, on stderr.
ARENA_CHECK = """
import ctypes, os, tempfile, threading
from app.heap import steady_heap

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
if STEADY:
    steady_heap()
together = threading.Barrier(8)
held = []

def allocate():
    together.wait()
    held.append(libc.malloc(1000))
    together.wait()

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with tempfile.TemporaryFile("w+") as stats:
    os.dup2(stats.fileno(), 2)
    libc.malloc_stats()
    stats.seek(0)
    print(sum(line.startswith("Arena ") for line in stats))
"""


@pytest.mark.parametrize("steady, most", [(True, 2), (False, 16)])
def test_course_serve_keeps_the_threads_to_two_arenas(steady, most):
    arenas = int(_run(ARENA_CHECK.replace("STEADY", str(steady))))
    assert arenas <= most
    if not steady:
        assert arenas > 2  # glibc's default: an arena per thread that allocates while the others are busy


def test_the_app_trims_while_it_runs_and_its_trimmer_stops_at_shutdown(tmp_path, monkeypatch):
    """The lifespan starts a trimmer and stops it: no trimming thread outlives its app."""
    import time

    from fastapi.testclient import TestClient

    from app import heap, main
    from app.db import migrate
    from app.settings import Settings

    started = []

    def quick_trimmer():
        started.append(heap.start_trimming(interval_s=0.05))
        return started[-1]

    monkeypatch.setattr(main, "start_trimming", quick_trimmer)
    settings = Settings(data_dir=tmp_path)
    migrate(settings.resolved_database_url)
    with TestClient(main.create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        (trimmer,) = started
        deadline = time.monotonic() + 10
        while trimmer.trims < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert trimmer.running and trimmer.trims >= 2
    assert not trimmer.running
    trims = trimmer.trims
    time.sleep(0.2)
    assert trimmer.trims == trims  # stopped, not merely idle
