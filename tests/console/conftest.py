"""A real console for browser tests: the API app served by uvicorn on 127.0.0.1, one headless Chromium.

- ``console`` (session): the app on a migrated SQLite file and the suite's Redis, the fake WhatsApp
  gateway beside it, and an API client with the bearer token for setting things up;
- ``browser`` (session): Debian's Chromium (``/usr/bin/chromium``, or ``CHROMIUM``) driven by
  Playwright; nothing is downloaded;
- ``page``: a fresh signed-in browser context per test, in English, in America/Sao_Paulo;
- ``shoot(page, name)``: saves a screenshot under ``tests/console/screenshots/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from chronoflow.api.app import create_app
from chronoflow.config import Settings
from chronoflow.devtools.fake_whatsapp import FakeWhatsApp
from chronoflow.store.migrations import upgrade
from tests.services import EmbeddedRedis

TOKEN = "console-test-token-0123456789"
FAKE_KEY = "console-fake-key"
ZONE = "America/Sao_Paulo"
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Console:
    """The running console and what tests need around it."""

    def __init__(self, url: str, database_url: str, redis_url: str, fake: FakeWhatsApp, home: Path) -> None:
        self.url = url
        self.database_url = database_url
        self.redis_url = redis_url
        self.fake = fake
        self.home = home
        self.api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def fake_connect(self, session: str) -> httpx.Response:
        """The phone scans the QR code: the fake gateway pairs ``session`` (WORKING)."""
        return httpx.post(f"{self.fake.url}/_fake/connect", json={"session": session}, timeout=10)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process of this console: its database, Redis and fake gateway."""
        return {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                "CHRONOFLOW_API_TOKENS": TOKEN, "CHRONOFLOW_HOME": str(self.home), "LOG_LEVEL": "WARNING",
                "WAHA_BASE_URL": self.fake.url, "WAHA_API_KEY": FAKE_KEY}

    def burst_worker(self, timeout: float = 60) -> None:
        """Run what is queued with a real worker process, then let it exit."""
        done = subprocess.run([sys.executable, "-m", "chronoflow", "worker", "--burst"], env=self.env,
                              capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()

    @contextmanager
    def running(self, *roles: str) -> Iterator[None]:
        """A scheduler, a worker… of this console, for as long as the block lasts."""
        processes = [subprocess.Popen([sys.executable, "-m", "chronoflow", role], env=self.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                     for role in roles]
        try:
            yield
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@pytest.fixture(scope="session")
def console(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console")
    database_url = f"sqlite+aiosqlite:///{home / 'console.db'}"
    upgrade(database_url)
    with FakeWhatsApp(api_key=FAKE_KEY) as fake:
        port = _free_port()
        settings = Settings(database_url=database_url, redis_url=redis_server.url, api_tokens=(TOKEN,),
                            waha_base_url=fake.url, waha_api_key=FAKE_KEY, default_timezone="UTC", port=port)
        app = create_app(settings, redis_server.url, database_url)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the console did not start"
            time.sleep(0.05)
        made = Console(f"http://127.0.0.1:{port}", database_url, redis_server.url, fake, home)
        try:
            yield made
        finally:
            made.api.close()
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Browser]:
    """Started after the console, and stopped with the module: Playwright's sync API keeps an event
    loop running in this thread while it lives, and every other test's ``asyncio.run`` (the
    console's own migrations included) needs none running."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM)", pytrace=False)
    playwright: Playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
    finally:
        playwright.stop()


def open_context(browser: Browser, console: Console, locale: str = "en-US") -> Any:
    context = browser.new_context(base_url=console.url, locale=locale, timezone_id=ZONE,
                                  viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    return context


def sign_in(page: Page) -> None:
    page.goto("/console/")
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A signed-in English page, its zone America/Sao_Paulo."""
    context = open_context(browser, console)
    made = context.new_page()
    sign_in(made)
    try:
        yield made
    finally:
        context.close()


def shoot(page: Page, name: str) -> Path:
    """Save what the page shows now, for people reading the results (and the README's pictures)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


__all__ = ["TOKEN", "ZONE", "Console", "open_context", "shoot", "sign_in"]
