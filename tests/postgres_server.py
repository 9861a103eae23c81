"""A throwaway PostgreSQL server for tests and benchmarks: Debian's binaries, a temporary data dir,
127.0.0.1 only, trust authentication, fsync off. Not for anything that must keep its data.

initdb refuses to run as root, so as root the server runs as the `postgres` user (via runuser).
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "PostgreSQL is missing: `make system-test-deps` installs Debian's postgresql package."


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding pg_ctl (Debian's layout), else pg_ctl on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryPostgres:
    """`with TemporaryPostgres() as pg: pg.create_database("x")` → a SQLAlchemy URL; stopped on exit."""

    def __init__(self):
        self.bin = postgres_bin_dir()
        if self.bin is None:
            raise RuntimeError(INSTALL_HINT)
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        self.data_dir: Path | None = None

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs)

    def __enter__(self) -> "TemporaryPostgres":
        # Not under pytest's tmp dirs: those are private to root and the postgres user must own this one.
        self.data_dir = Path(tempfile.mkdtemp(prefix="course-pg-"))
        if self.as_postgres:
            shutil.chown(self.data_dir, "postgres", "postgres")
        pgdata = str(self.data_dir / "data")
        self._run("initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -F -c max_connections=300"
        try:
            self._run("pg_ctl", "-D", pgdata, "-o", options, "-l", str(self.data_dir / "server.log"), "-w", "start")
        except subprocess.CalledProcessError as exc:
            log = (self.data_dir / "server.log").read_text() if (self.data_dir / "server.log").exists() else ""
            self._cleanup()
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{log}") from exc
        return self

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def server_pid(self) -> int:
        """The postmaster's process id (its backends are its children), for benchmarks that count its CPU."""
        return int((self.data_dir / "data" / "postmaster.pid").read_text().split()[0])

    def version(self) -> str:
        return self._run("postgres", "--version").stdout.strip()

    def __exit__(self, *exc_info) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data_dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        for _ in range(3):
            shutil.rmtree(self.data_dir, ignore_errors=True)
            if not self.data_dir.exists():
                return
            time.sleep(0.2)
