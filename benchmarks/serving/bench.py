"""What serving adapters costs on the offline default base: tokens/s and latency of a merged model, one adapter and
requests spread over 8 adapters, at 1 and 8 concurrent clients, through the engine's real scheduler (and once
through the HTTP server); and the memory of one base with 8 adapters against 8 merged copies.

Usage: .venv/bin/python benchmarks/serving/bench.py [--data-dir DIR] [--rounds 3] [--max-tokens 64]
Builds `tiny` and trains 8 legal-format adapters into DIR on first use (cached), then writes
benchmarks/serving/results.json with the machine and its load average. Scenarios alternate within each round and
the headline is the median round, because the machine is shared: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import http.client
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from labs.cli import configure_process  # noqa: E402

N_ADAPTERS = 8
SECRET = "bench-secret"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def param_mb(model) -> float:
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def train_adapters(data_dir: Path) -> tuple[list[Path], dict]:
    """Adapter 0: the legal-format recipe as learners run it. 1-7: the same recipe with other seeds and 8 steps
    (same shapes and cost to serve; short because the machine is shared). Cached in DATA_DIR/runs."""
    from labs.config import apply_overrides, load_recipe
    from labs.train import run

    dirs, seconds = [], {}
    for i in range(N_ADAPTERS):
        run_dir = data_dir / "runs" / f"bench-{i}"
        if not (run_dir / "adapter" / "adapter_config.json").exists():
            overrides = ["base=tiny", f"seed={i}"] + (["eval.heldout=20"] if i == 0 else [
                "steps=8", "warmup_steps=1", "eval.heldout=1", "eval.regression=0", "eval.max_new_tokens=8",
                "eval.side_by_side=0"])
            run(apply_overrides(load_recipe("legal-format"), overrides), run_dir)
        metrics = json.loads((run_dir / "metrics.json").read_text())  # also for a cached run
        seconds[f"bench-{i}"] = {k: metrics.get(k) for k in ("steps", "duration_s", "compliance_after")}
        dirs.append(run_dir / "adapter")
    return dirs, seconds


def merged_copy(adapter_dir: Path):
    """The base (loaded exactly as the engine loads it) with adapter 0 merged in: peft's merge_and_unload."""
    from peft import PeftModel

    from labs.serving.adapters import LoadedBase

    loaded = LoadedBase.load("tiny", max_adapters=1)
    return PeftModel.from_pretrained(loaded.model, str(adapter_dir)).merge_and_unload(), loaded.tokenizer


def step_times(engine, variants: dict, prompt_ids: list[int], batch: int, repeats: int = 9,
               steps: int = 16) -> dict:
    """Median milliseconds per KV-cached decode step (forward only) of each variant, interleaved: where the time
    goes, without the scheduler. `variants` maps a label to (base name, adapter id or None, lean: bool)."""
    import contextlib

    import torch
    from transformers import DynamicCache

    from labs.serving.lean_lora import lean_lora

    times = {label: [] for label in variants}
    ids = torch.tensor([prompt_ids] * batch)
    for _ in range(repeats):
        for label, (base, adapter, lean) in variants.items():
            loaded = engine.ensure_base(base)
            with loaded.lock, torch.inference_mode():
                model = loaded.model
                if adapter is not None:
                    model.set_adapter(loaded.peft_name(adapter))
                ctx = lean_lora(model, loaded.peft_name(adapter) if adapter else None) if lean else (
                    model.disable_adapter() if adapter is None and hasattr(model, "disable_adapter")
                    else contextlib.nullcontext())
                with ctx:
                    cache = DynamicCache(config=model.config)
                    out = model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
                    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    for _ in range(steps):
                        nxt = model(input_ids=nxt, cache=cache, use_cache=True).logits[:, -1].argmax(-1, keepdim=True)
                    times[label].append(((time.perf_counter() - t0) / steps * 1000,
                                         (time.process_time() - cpu0) / steps * 1000))
    return {label: {"wall_ms": round(statistics.median(w for w, _ in t), 3),
                    "cpu_ms": round(statistics.median(c for _, c in t), 3)} for label, t in times.items()}


def run_load(send, n_requests: int, clients: int) -> dict:
    """`clients` threads send `n_requests` requests in all, each waiting for its answer before the next."""
    jobs = list(range(n_requests))
    lock = threading.Lock()
    latencies, tokens = [], []

    def client():
        while True:
            with lock:
                if not jobs:
                    return
                i = jobs.pop(0)
            t0 = time.perf_counter()
            n = send(i)
            with lock:
                latencies.append(time.perf_counter() - t0)
                tokens.append(n)

    t0, cpu0 = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    latencies.sort()
    return {"requests": n_requests, "clients": clients, "tokens": sum(tokens), "wall_s": round(wall, 3),
            "tokens_per_s": round(sum(tokens) / wall, 1), "cpu_s": round(cpu, 3),
            "tokens_per_cpu_s": round(sum(tokens) / cpu, 1),
            "p50_s": round(statistics.median(latencies), 3),
            "p99_s": round(latencies[min(len(latencies) - 1, int(0.99 * (len(latencies) - 1) + 0.5))], 3)}


def http_sender(port: int, prompts, adapters, spread: bool, max_tokens: int):
    def send(i: int) -> int:
        k = i % N_ADAPTERS if spread else 0
        body = {"request_id": f"h{i}", "base": "tiny", "adapter": {"id": f"bench-{k}", "path": str(adapters[k])},
                "messages": prompts[i % len(prompts)], "max_tokens": max_tokens, "temperature": 0}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/generate", json.dumps(body), {"Authorization": f"Bearer {SECRET}"})
        out = json.loads(conn.getresponse().read())
        conn.close()
        return out["completion_tokens"]
    return send


def start_server(data_dir: Path) -> tuple[subprocess.Popen, int]:
    port_file = data_dir / "bench-server.port"
    port_file.unlink(missing_ok=True)
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "COURSE_MODEL_SERVER_SECRET": SECRET,
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "labs", "serve-models", "--port", "0", "--port-file",
                             str(port_file), "--max-adapters", str(N_ADAPTERS), "--preload", "tiny"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not port_file.exists():
        if proc.poll() is not None:
            raise SystemExit("the model server exited at start")
        time.sleep(0.2)
    return proc, int(port_file.read_text())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/serving-bench"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = p.parse_args()
    os.environ["COURSE_DATA_DIR"] = str(args.data_dir)
    os.environ["HF_HUB_OFFLINE"] = "1"
    configure_process()
    load_before = os.getloadavg()

    from labs.base import resolve_base
    from labs.evaluate import heldout_examples
    from labs.serving.engine import ServingEngine
    from labs.serving.requests import GenerateRequest

    t0 = time.perf_counter()
    resolve_base("tiny", show_progress=False)
    build_s = round(time.perf_counter() - t0, 1)
    adapters, training = train_adapters(args.data_dir)
    prompts = [ex["messages"][:-1] for ex in heldout_examples("legal-format", 32, seed=3)]

    engine = ServingEngine(max_adapters=N_ADAPTERS)
    rss0 = rss_mb()
    loaded = engine.ensure_base("tiny")
    memory = {"base_param_mb": round(param_mb(loaded.model), 3), "base_rss_mb": round(rss_mb() - rss0, 1)}
    rss1 = rss_mb()
    for i, path in enumerate(adapters):
        engine.ensure_adapter("tiny", f"bench-{i}", str(path))
    memory["base_with_8_adapters_param_mb"] = round(param_mb(loaded.model), 3)
    memory["8_adapters_rss_mb"] = round(rss_mb() - rss1, 1)
    rss2 = rss_mb()
    copies = [merged_copy(adapters[i]) for i in range(N_ADAPTERS)]
    memory["8_merged_copies_param_mb"] = round(sum(param_mb(m) for m, _ in copies), 3)
    memory["8_merged_copies_rss_mb"] = round(rss_mb() - rss2, 1)
    memory["ratio_param_8_merged_vs_base_with_8"] = round(
        memory["8_merged_copies_param_mb"] / memory["base_with_8_adapters_param_mb"], 2)
    engine.install_base("tiny-merged", *copies[0])  # adapter 0 merged: the same answers as adapter 0, no LoRA
    del copies[1:]

    def sender(base: str, spread: bool | None):
        def send(i: int) -> int:
            k = (i % N_ADAPTERS if spread else 0) if spread is not None else None
            req = GenerateRequest(f"r{i}", base, prompts[i % len(prompts)],
                                  adapter_id=None if k is None else f"bench-{k}",
                                  adapter_path=None if k is None else str(adapters[k]),
                                  max_tokens=args.max_tokens, temperature=0.0)
            return engine.generate(req).completion_tokens
        return send

    prompt_ids = loaded.tokenizer.apply_chat_template(prompts[0], add_generation_prompt=True, tokenize=True)["input_ids"]
    variants = {"merged": ("tiny-merged", None, False), "adapter_peft_forward": ("tiny", "bench-0", False),
                "adapter_lean_forward": ("tiny", "bench-0", True), "base_lean_forward": ("tiny", None, True)}
    steps = {f"batch_{b}": step_times(engine, variants, prompt_ids, b) for b in (1, 8)}
    print(f"decode step ms: {steps}", file=sys.stderr)

    scenarios = {"merged": sender("tiny-merged", None), "one_adapter": sender("tiny", False),
                 "eight_adapters": sender("tiny", True)}
    for send in scenarios.values():  # warm-up: first calls pay one-off allocations
        send(0)
    rounds = {c: {name: [] for name in scenarios} for c in (1, 8)}
    for r in range(args.rounds):
        for clients, n in ((1, 8), (8, 32)):
            for name, send in scenarios.items():
                rounds[clients][name].append(run_load(send, n, clients))
                print(f"round {r} c={clients} {name}: {rounds[clients][name][-1]}", file=sys.stderr)

    def median_round(results: list[dict]) -> dict:
        return sorted(results, key=lambda x: x["tokens_per_s"])[len(results) // 2]

    summary = {}
    for clients, by_name in rounds.items():
        med = {name: median_round(res) for name, res in by_name.items()}
        # overhead = tokens/s lost against the merged model, from the median over rounds; on a shared machine the
        # CPU-time figure (work done per token) is steadier than the wall-clock one (which includes waiting for a core)
        overhead = {}
        for key in ("tokens_per_s", "tokens_per_cpu_s"):
            rate = {name: statistics.median(x[key] for x in res) for name, res in by_name.items()}
            overhead[key] = {name: round(1 - rate[name] / rate["merged"], 3)
                             for name in ("one_adapter", "eight_adapters")}
        summary[f"{clients}_clients"] = {**med, "overhead_vs_merged": overhead,
                                         "all_rounds": by_name}
    batches = engine.recent_batches(200)
    engine.close()

    proc, port = start_server(args.data_dir)
    try:
        http_results = {}
        for name, spread in (("one_adapter", False), ("eight_adapters", True)):
            send = http_sender(port, prompts, adapters, spread, args.max_tokens)
            send(0)
            http_results[name] = run_load(send, 32, 8)
            print(f"http c=8 {name}: {http_results[name]}", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    import torch

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "load_avg_before": [round(x, 2) for x in load_before],
                    "load_avg_after": [round(x, 2) for x in os.getloadavg()]},
        "setup": {"base": "tiny (4-bit NF4, double quant, fp32 compute, as trained)", "build_s": build_s,
                  "adapters": "legal-format r=8 on all 7 projections; adapter 0 the full recipe, 1-7 8 steps",
                  "training": training, "max_tokens": args.max_tokens, "temperature": 0,
                  "rounds": args.rounds, "requests": {"1_client": 8, "8_clients": 32}},
        "decode_step_ms": steps,
        "engine": summary,
        "http_8_clients": http_results,
        "batch_sizes_seen": sorted({b["size"] for b in batches}),
        "memory": memory,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("engine", "http_8_clients", "memory")}, indent=2))


if __name__ == "__main__":
    main()
