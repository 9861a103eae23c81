"""A warm lab process: it imports torch, transformers, peft and bitsandbytes once, then forks one child per run.

A lab run spent most of its first seconds importing that stack (3-5 s on two cores); a child forked from a process
that already holds it starts training at once. Each run is still its own process, in its own session, so
cancelling, killing and the scheduler's fault handling work as before. The server only imports: no torch
computation runs before a fork, so no OpenMP thread pool is copied into a child half-alive.

Protocol: one JSON line per Unix-socket connection, `{"argv", "cwd", "env", "log", "started"}`, answered with
`{"pid"}` or `{"refused": reason}`. The server writes each child's exit status to `<cwd>/process.exit` before
reaping it, so the runner can tell "killed by SIGKILL" from "gone". It exits when the process that started it does.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

EXIT_FILE = "process.exit"
# Read once when the stack is imported (huggingface_hub's offline switch, OpenMP's settings, the import path), so a
# request whose environment differs in them must not be served by this process: the runner starts it cold instead.
IMPORT_TIME_ENV = ("HF_", "TRANSFORMERS_", "OMP_", "MKL_", "CUDA_", "PYTORCH_", "TORCH_", "BNB_", "PYTHON")


def import_time_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_ENV)}


def serve(socket_path: str) -> None:
    from labs.cli import configure_process

    # Compared with each request's environment: the one this process was started with, as a cold run would be,
    # before configure_process adds its defaults (a cold run adds the same ones itself).
    my_env = import_time_env(dict(os.environ))
    configure_process()
    from labs.quant import import_training_stack

    import_training_stack()
    import labs.batching  # noqa: F401  (everything a run imports, so a child imports nothing)
    import labs.config  # noqa: F401
    import labs.evaluate  # noqa: F401
    import labs.metrics  # noqa: F401
    import labs.train  # noqa: F401
    import yaml  # noqa: F401

    # The imports left a large heap that no child will free. Frozen, the children's collector never walks it: no
    # full collections over it, and no copy-on-write of its pages just to mark them.
    gc.collect()
    gc.freeze()

    parent = os.getppid()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(16)
    server.settimeout(0.2)
    children: dict[int, str] = {}  # pid -> run dir
    print("ready", flush=True)  # the runner waits for this line
    while os.getppid() == parent:
        _record_exits(children)
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn:
            request = json.loads(conn.makefile("rb").readline())
            if import_time_env(request["env"]) != my_env:
                conn.sendall(b'{"refused": "the environment differs in settings read at import time"}\n')
                continue
            Path(request["cwd"], EXIT_FILE).unlink(missing_ok=True)
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.close()
                _run_child(request)  # never returns
            children[pid] = request["cwd"]
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    # The process that started us is gone: runs in progress go on alone, as runs started with Popen would.


def _run_child(request: dict) -> None:
    """In the forked child: become a run process exactly like `python -m labs ARGV` started in `cwd`."""
    code = 1
    try:
        os.setsid()  # its own session and process group: a cancel signals the run and nothing else
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler)
        sys.argv = ["labs", *request["argv"]]
        import labs.cli

        labs.cli.STARTED = request["started"]  # elapsed_s counts from the launch, as in a fresh process
        code = labs.cli.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001  (the child must never return into the server's loop)
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _record_exits(children: dict[int, str]) -> None:
    """Write each ended child's exit status to its run dir, then reap it (WNOWAIT first: no moment without both)."""
    while children:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None:
            return
        code = -info.si_status if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED) else info.si_status
        run_dir = children.pop(info.si_pid, None)
        if run_dir is not None:
            tmp = Path(run_dir, EXIT_FILE + ".tmp")
            tmp.write_text(str(code))
            tmp.rename(Path(run_dir, EXIT_FILE))
        os.waitpid(info.si_pid, 0)


def read_exit(run_dir: str) -> int | None:
    try:
        return int(Path(run_dir, EXIT_FILE).read_text())
    except (OSError, ValueError):
        return None


class WarmProcess:
    """The runner's side: start the server once, ask it to fork runs, stop it."""

    def __init__(self, env: dict[str, str], ready_timeout_s: float = 120.0):
        import subprocess
        import tempfile

        self.env = dict(env)
        self.folder = tempfile.mkdtemp(prefix="course-lab-warm-")
        self.socket_path = os.path.join(self.folder, "warm.sock")
        self.process = subprocess.Popen([sys.executable, "-m", "labs.runners.warm", self.socket_path], env=self.env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=open(os.path.join(self.folder, "warm.log"), "ab"))
        self.ready_timeout_s = ready_timeout_s
        self._ready = False

    def ready(self) -> bool:
        """Wait (the first time) until the server has imported the stack; False if it failed to start."""
        if not self._ready and self.process.poll() is None:
            import select

            readable, _, _ = select.select([self.process.stdout], [], [], self.ready_timeout_s)
            self._ready = bool(readable) and self.process.stdout.readline().strip() == b"ready"
        return self._ready and self.process.poll() is None

    def fork(self, argv: list[str], cwd: str, env: dict[str, str], log: str) -> int | None:
        """The pid of a child running `python -m labs ARGV` in `cwd`, or None when this server cannot serve it."""
        if not self.ready():
            return None
        request = {"argv": argv, "cwd": cwd, "env": env, "log": log, "started": time.time()}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            conn.connect(self.socket_path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(conn.makefile("rb").readline() or b"{}")
        return answer.get("pid")

    def close(self) -> None:
        import shutil

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except Exception:  # noqa: BLE001
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    serve(sys.argv[1])
