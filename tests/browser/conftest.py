"""Browser-test fixtures: a real `course serve` process and Debian's Chromium driven by Playwright.

Chromium is the system one at /usr/bin/chromium (never `playwright install`), started with the flags
that keep it from reaching for the network this machine does not have.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(env: dict, module: str = "app.cli serve", extra: tuple[str, ...] = ()):
    """Start `course serve` (or another server `module`) with `env` on a free port; yield its URL; stop it."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", *module.split(), "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            break
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the course server did not start")
            time.sleep(0.3)
    yield url
    server.terminate()
    server.wait(timeout=30)


def watch_for_errors(page) -> list[str]:
    """Collects the page's uncaught JavaScript errors and anything the Content-Security-Policy blocked
    (Chromium reports those on the console, not as page errors). The CSP forbids eval, so tests pass
    `wait_for_function` an arrow function: a bare expression string is eval'd inside the page."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    return errors


@pytest.fixture(scope="session")
def base_url(tmp_path_factory):
    yield from _serve({**os.environ, "COURSE_DATA_DIR": str(tmp_path_factory.mktemp("browser-data"))})


@pytest.fixture(scope="session")
def exercise_base_url(tmp_path_factory):
    """A server whose chapter 3 has the known exercises of tests/exercise_course.py."""
    data = tmp_path_factory.mktemp("exercise-browser-data")
    env = {**os.environ, "COURSE_DATA_DIR": str(data)}
    yield from _serve(env, "tests.browser.exercise_server", ("--data-dir", str(data)))


@pytest.fixture(scope="session")
def lab_base_url(tmp_path_factory):
    """A server whose data dir has the `micro` base built (about 20 s), the only base it offers."""
    data = tmp_path_factory.mktemp("lab-browser-data")
    env = {**os.environ, "COURSE_DATA_DIR": str(data), "COURSE_LAB_BASES": "micro", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "labs", "base", "build", "--name", "micro"], env=env, check=True,
                   capture_output=True, timeout=600)
    yield from _serve(env)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page_of(browser, base_url):
    """A page in a fresh context; the test fails if the page raised a JavaScript error."""
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    errors = watch_for_errors(page)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser, base_url):
    yield from _page_of(browser, base_url)


@pytest.fixture
def exercise_page(browser, exercise_base_url):
    """A page on the server whose chapter 3 has the known exercises."""
    yield from _page_of(browser, exercise_base_url)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
