"""Heap probe for the soak (a diagnostic, not part of the benchmark): with this folder on PYTHONPATH and
SOAK_HEAP_LOG=FILE set, `course serve` appends glibc's malloc statistics (mallinfo2) every 20 s, so RSS can
be split into live heap and free heap that malloc keeps; with SOAK_HEAP_TRIM_AT=S it calls malloc_trim(0)
once, S seconds in, to show how much of that free heap the OS can get back.

    PYTHONPATH=benchmarks/soak/heap_probe SOAK_HEAP_LOG=/tmp/heap.txt SOAK_HEAP_TRIM_AT=600 \
        .venv/bin/python benchmarks/soak/soak.py --duration 600 --out /tmp/soak.json
"""

import os
import sys

if os.environ.get("SOAK_HEAP_LOG") and "serve" in sys.argv:
    import ctypes
    import threading
    import time

    class _MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                          "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    _LIBC = ctypes.CDLL("libc.so.6")
    _LIBC.mallinfo2.restype = _MallInfo2
    _STARTED = time.monotonic()

    def _log(note: str = "") -> None:
        info = _LIBC.mallinfo2()
        rss = next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1]
        with open(os.environ["SOAK_HEAP_LOG"], "a") as out:
            out.write(f"t={time.monotonic() - _STARTED:5.0f}s rss={int(rss) / 1024:6.1f}MB "
                      f"heap={info.arena / 2**20:6.1f}MB live={info.uordblks / 2**20:6.1f}MB "
                      f"free={info.fordblks / 2**20:6.1f}MB mmapped={info.hblkhd / 2**20:5.1f}MB {note}\n")

    def _probe() -> None:
        trim_at, trimmed = float(os.environ.get("SOAK_HEAP_TRIM_AT", "inf")), False
        while True:
            time.sleep(20)
            _log()
            if not trimmed and time.monotonic() - _STARTED >= trim_at:
                _LIBC.malloc_trim(0)
                _log("after malloc_trim(0)")
                trimmed = True

    threading.Thread(target=_probe, name="soak-heap-probe", daemon=True).start()
