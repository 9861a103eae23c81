"""The `course` command: `course serve` migrates the database, then serves the course."""

import argparse
import os
import sys

from pydantic import ValidationError


def _serve(args: argparse.Namespace) -> int:
    # One BLAS thread per worker: the simulations' small SVDs run ~3 ms single-threaded but can take
    # a second when OpenBLAS threads fight each other and the web workers on a 2-core machine.
    # Set before numpy is imported (the app imports it), and inherited by uvicorn's workers.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from app.db import migrate
    from app.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    print(f"Serving Fine-Tuning in Practice on http://{args.host}:{args.port}", flush=True)
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description="Fine-Tuning in Practice: the course server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database and serve the course")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    serve.set_defaults(handler=_serve)

    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"course: setting error: {error['msg']}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
