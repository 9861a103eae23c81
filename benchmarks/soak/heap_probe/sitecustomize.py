"""Heap probe for the soak (a diagnostic, not part of the benchmark): with this folder on PYTHONPATH and
SOAK_HEAP_LOG=FILE set, `course serve` appends every 20 s its RSS split by kind (/proc/self/smaps_rollup:
file-backed, anonymous), glibc's malloc statistics (mallinfo2: live and free heap, mmapped blocks), Python's
small-object arenas, SQLite's memory (its page caches, which tracemalloc does not see) and what each bounded
cache holds (`caches=`: MB[cap MB](entries), so a cache still filling shows), so growth can be told apart:
data kept, or free memory malloc keeps.
SOAK_HEAP_TRIM_AT=S calls malloc_trim(0) once, S seconds in (how much free heap the OS can get back);
SOAK_TRACEMALLOC=S starts tracemalloc S seconds in (the start stays fast), takes a snapshot 90 s later (the
caches have turned over by then) and logs each minute the allocation sites that grew most since (slow: for
finding a site, not for timing); SOAK_TRACEMALLOC=0 starts it as the server process starts (so every live
block is traced, caches included), and SOAK_TRACEMALLOC_DUMPS=DIR writes a snapshot there each minute
instead (`tNNNNs.snap`, seconds since start, for `tracemalloc.Snapshot.load` and any grouping afterwards:
with 6 frames, a diff in the server held the GIL for over a minute).

    PYTHONPATH=benchmarks/soak/heap_probe SOAK_HEAP_LOG=/tmp/heap.txt \
        .venv/bin/python benchmarks/soak/soak.py --duration 360 --out /tmp/soak.json
"""

import os
import sys

if os.environ.get("SOAK_HEAP_LOG") and "serve" in sys.argv:
    import ctypes
    import threading
    import time
    import tracemalloc

    class _MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                          "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    _LIBC = ctypes.CDLL("libc.so.6")
    _LIBC.mallinfo2.restype = _MallInfo2
    try:  # the sqlite3 module's own library (linked dynamically): all SQLite memory, page caches included
        _SQLITE = ctypes.CDLL("libsqlite3.so.0")
        _SQLITE.sqlite3_memory_used.restype = ctypes.c_int64
    except OSError:
        _SQLITE = None
    _STARTED = time.monotonic()
    _TRACE_FROM = float(os.environ.get("SOAK_TRACEMALLOC", "inf"))
    _FRAMES = int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "1"))
    if _TRACE_FROM == 0:
        tracemalloc.start(_FRAMES)  # before the app is imported: nothing it keeps escapes the trace

    def _rollup() -> dict[str, float]:
        fields = {}
        for line in open("/proc/self/smaps_rollup"):
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
        return fields

    def _pymalloc() -> str:
        """Python's small-object allocator: arenas (1 MiB each) and the bytes in blocks they hand out. With
        SOAK_HEAP_PYMALLOC_DIR set, the whole report (pools and blocks per size class) is kept there too, one file
        a sample (`tNNNNs.txt`): a size class whose pools grow while its blocks do not is fragmentation."""
        import tempfile

        with tempfile.TemporaryFile("w+") as dump:
            saved = os.dup(2)
            try:
                os.dup2(dump.fileno(), 2)
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            dump.seek(0)
            report = dump.read()
        if os.environ.get("SOAK_HEAP_PYMALLOC_DIR"):
            seconds = time.monotonic() - _STARTED
            with open(os.path.join(os.environ["SOAK_HEAP_PYMALLOC_DIR"], f"t{seconds:04.0f}s.txt"), "w") as out:
                out.write(report)
        stats = {line.split("=")[0].strip(): line.split("=")[-1].strip().replace(",", "") for line in
                 report.splitlines() if "=" in line}
        arenas = int(stats.get("# arenas allocated current", 0))
        return f"pyarenas={arenas}({int(stats.get('# bytes in allocated blocks', 0)) / 2**20:.1f}MB used)"

    def _caches() -> str:
        """What each bounded cache holds by its own count, MB[cap](entries): which of them are still filling.
        The chapter page's caches are found by a walk of the collector's objects (~50 ms with the GIL held, every
        20 s: a diagnostic's price); the simulation runs' by name (made at import: gc.freeze hides it)."""
        import gc

        found = [obj for obj in gc.get_objects() if type(obj).__name__ == "PageCache"]
        runs = sys.modules.get("app.simulation_runs")
        found += [runs.RUNS] if runs else []
        return "caches=" + ",".join(sorted(
            f"{type(obj).__name__}={getattr(obj, 'bytes', getattr(obj, '_bytes', 0)) / 2**20:.1f}"
            f"[{obj.max_bytes / 2**20:.0f}]({len(getattr(obj, '_pages', getattr(obj, '_recent', ())))})"
            for obj in found))

    def _write(text: str) -> None:
        with open(os.environ["SOAK_HEAP_LOG"], "a") as out:
            out.write(text)

    def _log(note: str = "") -> None:
        info, roll = _LIBC.mallinfo2(), _rollup()
        traced = f" traced={tracemalloc.get_traced_memory()[0] / 2**20:6.1f}MB" if tracemalloc.is_tracing() else ""
        _write(f"t={time.monotonic() - _STARTED:5.0f}s rss={roll['Rss']:6.1f}MB anon={roll['Anonymous']:6.1f}MB "
               f"file={roll['Rss'] - roll['Anonymous']:5.1f}MB heap={info.arena / 2**20:6.1f}MB "
               f"live={info.uordblks / 2**20:6.1f}MB free={info.fordblks / 2**20:6.1f}MB "
               f"mmapped={info.hblkhd / 2**20:5.1f}MB({info.hblks}) {_pymalloc()} "
               f"sqlite={_SQLITE.sqlite3_memory_used() / 2**20 if _SQLITE else float('nan'):.1f}MB "
               f"threads={threading.active_count()}{traced} {_caches()} {note}\n")

    def _probe() -> None:
        trim_at, trimmed, base, next_diff = float(os.environ.get("SOAK_HEAP_TRIM_AT", "inf")), False, None, 0.0
        while True:
            time.sleep(20)
            _log()
            now = time.monotonic() - _STARTED
            if not trimmed and now >= trim_at:
                took = time.perf_counter()
                _LIBC.malloc_trim(0)
                _log(f"after malloc_trim(0), which took {(time.perf_counter() - took) * 1000:.1f} ms")
                trimmed = True
            if now >= _TRACE_FROM and not tracemalloc.is_tracing():
                tracemalloc.start(_FRAMES)
            elif tracemalloc.is_tracing() and base is None and now >= _TRACE_FROM + 90:
                base, next_diff = tracemalloc.take_snapshot(), now + 60  # caches have turned over since
            elif base is not None and now >= next_diff:
                next_diff = now + 60
                snapshot = tracemalloc.take_snapshot()
                if os.environ.get("SOAK_TRACEMALLOC_DUMPS"):  # diffed afterwards: compare_to holds the GIL for minutes
                    snapshot.dump(os.path.join(os.environ["SOAK_TRACEMALLOC_DUMPS"], f"t{now:04.0f}s.snap"))
                    continue
                diff = snapshot.compare_to(base, "traceback")
                _write("".join(f"    {stat.size_diff / 2**20:+.2f} MB ({stat.count_diff:+d} blocks, now "
                               f"{stat.size / 2**20:.2f} MB) at " + " <- ".join(
                                   f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
                                   for frame in reversed(stat.traceback)) + "\n" for stat in diff[:12]))

    threading.Thread(target=_probe, name="soak-heap-probe", daemon=True).start()
