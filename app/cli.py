"""The `course` command: `course serve` migrates the database, then serves the course;
`course users create|set-role` manages accounts (passwords from stdin or a prompt, never argv).
"""

import argparse
import getpass
import os
import sys

from pydantic import ValidationError

from app.errors import AppError
from app.heap import steady_heap

WORKER_HEALTHCHECK_S = 60  # how long a worker may take to answer uvicorn's health check (see _serve)


def _serve(args: argparse.Namespace) -> int:
    # One BLAS thread per worker: the simulations' small SVDs run ~3 ms single-threaded but can take
    # a second when OpenBLAS threads fight each other and the web workers on a 2-core machine.
    # Set before numpy is imported (the app imports it), and inherited by uvicorn's workers.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    steady_heap()
    import uvicorn

    from app.db import migrate
    from app.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    for warning in several_workers_warnings(settings.rate_limit_storage, args.workers):
        print(f"course serve: {warning}", file=sys.stderr, flush=True)
    print(f"Serving Fine-Tuning in Practice on http://{args.host}:{args.port}", flush=True)
    # proxy_headers off: the app believes X-Forwarded-* only from COURSE_TRUSTED_PROXIES (app.security).
    # With several workers uvicorn kills one that does not answer its health check in time and starts
    # another; its 5 s default is shorter than a worker's start on a busy 2-core machine (imports alone
    # took longer under load), so every new worker was killed while starting, in an endless loop.
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                proxy_headers=False, timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    return 0


def several_workers_warnings(rate_limit_storage: str, workers: int) -> list[str]:
    """What several workers would get wrong with these settings, in words for the person starting them."""
    if workers > 1 and rate_limit_storage.startswith("memory://"):
        return [f"{workers} workers count rate limits and open event streams each on their own "
                f"(COURSE_RATE_LIMIT_STORAGE=memory://), so a limit lets {workers} times as many through; share "
                "them in Redis (COURSE_RATE_LIMIT_STORAGE=redis://host:6379)."]
    return []


def _read_password() -> str:
    """From a prompt, typed twice, on a terminal; otherwise the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            raise SystemExit("course: the two passwords differ; nothing was created.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _sessions():
    from app.db import create_db_engine, make_session_factory, migrate
    from app.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    return make_session_factory(create_db_engine(settings.resolved_database_url))


def _users_create(args: argparse.Namespace) -> int:
    from app.accounts import create_user

    name = args.name or args.email.partition("@")[0]
    user = create_user(_sessions(), args.email, _read_password(), name, args.role)
    print(f"Created {user.role} {user.email} (id {user.id}).")
    return 0


def _users_set_role(args: argparse.Namespace) -> int:
    from app.accounts import find_user, set_role

    sessions = _sessions()
    user = set_role(sessions, find_user(sessions, args.email).id, args.role)
    print(f"{user.email} is now {user.role}.")
    return 0


def _add_users_commands(commands) -> None:
    users = commands.add_parser("users", help="create accounts and change roles").add_subparsers(
        dest="users_command", required=True
    )
    roles = ("learner", "instructor", "admin")
    create = users.add_parser(
        "create", help="create an account; the password is read from stdin, or prompted for twice on a terminal"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=roles, default="learner")
    create.add_argument("--name", help="display name (default: the part of the email before @)")
    create.set_defaults(handler=_users_create)
    set_role = users.add_parser("set-role", help="change the role of an existing account")
    set_role.add_argument("--email", required=True)
    set_role.add_argument("--role", choices=roles, required=True)
    set_role.set_defaults(handler=_users_set_role)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description="Fine-Tuning in Practice: the course server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database and serve the course")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    serve.set_defaults(handler=_serve)
    _add_users_commands(commands)

    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"course: setting error: {error['msg']}", file=sys.stderr)
        return 2
    except AppError as exc:
        print(f"course: {exc.detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
