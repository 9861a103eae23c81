"""A throwaway Redis server for tests and benchmarks: Debian's redis-server on 127.0.0.1 and a free port,
no persistence, stopped on exit. Not for anything that must keep its data."""

import shutil
import socket
import subprocess
import time

INSTALL_HINT = "redis-server is missing: `make system-test-deps` installs Debian's redis-server package."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryRedis:
    """`with TemporaryRedis() as redis: redis.url` → redis://127.0.0.1:PORT; the server stops on exit."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "TemporaryRedis":
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}") from None
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("redis-server did not answer within 10 s")

    def __exit__(self, *exc_info) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
