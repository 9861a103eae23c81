"""A stand-in for `python -m labs train`: writes the same events.jsonl and metrics.json, quickly.

The scheduler, relay and reliability tests need a real process that behaves like a run (events over
time, SIGTERM handling, an exit code) but takes seconds, not a minute. Usage: stand_in_job.py RUN_DIR STEPS DELAY_S
"""

import json
import signal
import sys
import time
from pathlib import Path

run_dir, steps, delay = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
run_dir.mkdir(parents=True, exist_ok=True)
start = time.time()
events = (run_dir / "events.jsonl").open("a")


def emit(kind: str, step: int, **values) -> None:
    event = {"type": kind, "step": step, "total_steps": steps, "elapsed_s": round(time.time() - start, 3),
             "eta_s": None, **values}
    events.write(json.dumps(event) + "\n")
    events.flush()


def on_term(signum, frame):
    emit("error", 0, message="the run was cancelled")
    sys.exit(143)


signal.signal(signal.SIGTERM, on_term)
emit("progress", 0, phase="train", message=f"{steps} steps")
for step in range(1, steps + 1):
    time.sleep(delay)
    emit("loss", step, loss=round(3.0 / step, 4), eval_loss=round(3.2 / step, 4) if step % 2 == 0 else None)
(run_dir / "metrics.json").write_text(json.dumps({"compliance_before": 0.0, "compliance_after": 1.0, "steps": steps}))
emit("done", steps, metrics=str(run_dir / "metrics.json"), compliance_before=0.0, compliance_after=1.0)
