"""Fixtures of the browser tests: Debian's Chromium, the whole stack as real processes, a page.

Playwright's own browser download does not work here: Chromium comes from Debian's `chromium`
package (installed on first use when missing; root only) and is launched by path.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from devstack.infra import Provided
from devstack.running import RunningStack
from devstack.stack import DEV_STRIPE_API_KEY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
# Waits in the browser: the payment's confirmation crosses ingest, Kafka and two workers.
CONFIRM_TIMEOUT_MS = 30_000
STEP_TIMEOUT_MS = 15_000

pytestmark = pytest.mark.e2e


def _install_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        pytest.fail(
            f"{CHROMIUM} is missing and only root can install it: run "
            "`apt-get update && apt-get install -y --no-install-recommends chromium`",
            pytrace=False,
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}",
                pytrace=False,
            )
    if not CHROMIUM.exists():
        pytest.fail(f"the chromium package did not install {CHROMIUM}", pytrace=False)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, installed with apt when missing."""
    _install_chromium()
    return CHROMIUM


@pytest.fixture(scope="module")
def stack(
    kafka_infra: Provided, postgres_infra: Provided, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """Every process of `make run`, on free ports, with their own databases.

    With the embedded broker the stack gets a broker of its own, so the records other tests
    write into the shared registry topics never reach its workers.
    """
    running = RunningStack.isolated(kafka_infra, postgres_infra, tmp_path_factory.mktemp("stack"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, closed with the module: it runs an event loop in this thread,
    and asynchronous tests collected after the browser tests need the thread back."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: Path) -> Iterator[Browser]:
    """Headless Chromium from Debian."""
    launched = playwright.chromium.launch(
        executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (no storage shared between tests) and its page."""
    context: BrowserContext = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
    assert not problems, f"JavaScript errors on the page: {problems}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item (the page fixture screenshots failures)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


_days = itertools.count(3)


@dataclass
class Shop:
    """One test's user on the stack, and what it does in the browser."""

    stack: RunningStack
    page: Page
    user_id: str
    email: str

    @property
    def token(self) -> str:
        return self.stack.token(self.user_id, self.email)

    def url(self, path: str) -> str:
        return self.stack.url("checkout", path)

    def open(self) -> None:
        """Open the page and sign in with a development token, as a developer would."""
        self.page.goto(self.url("/checkout"))
        self.sign_in(self.token)

    def sign_in(self, token: str) -> None:
        self.page.get_by_label("Development token").fill(token)
        self.page.locator("#signin").get_by_role("button", name="Sign in").click()
        self.page.locator("#signin").wait_for(state="hidden")

    def hold_slot(self, service: str = "Mixing", hour: str = "14:00") -> str:
        """Choose a service and a free day (each call a new one), hold it; the date used."""
        day = (date.today() + timedelta(days=next(_days))).isoformat()
        self.page.locator("#services label", has_text=service).click()
        self.page.get_by_label("Date").fill(day)
        self.page.get_by_label("Start time").select_option(hour)
        self.page.get_by_role("button", name="Hold this slot").click()
        self.page.locator("#held").wait_for(state="visible")
        return day

    def add_beat(self, title: str) -> None:
        self.page.locator("#beats label", has_text=title).click()

    def total(self) -> str:
        """The server's total as the page shows it (waits for the quote)."""
        return self.page.locator("#total-amount").inner_text()

    def to_stripe(self) -> None:
        """Complete payment and arrive on the (emulated) Stripe page."""
        self.page.get_by_role("button", name="Complete payment").click()
        self.page.wait_for_url("**/c/pay/**")

    def on_stripe(self, button: str) -> None:
        self.page.get_by_role("button", name=button, exact=True).click()

    def outcome(self, state: str, timeout_ms: int = CONFIRM_TIMEOUT_MS) -> None:
        """Wait until the success page shows `state` (confirmed, processing, ...)."""
        self.page.locator(f"#outcome[data-state={state}]").wait_for(timeout=timeout_ms)

    def until(self, probe: Callable[[], bool], timeout_s: float = 20.0) -> None:
        """Poll `probe` with a deadline (the browser's clock paces it; never a fixed sleep)."""
        deadline = time.monotonic() + timeout_s
        while not probe():
            assert time.monotonic() < deadline, f"not true after {timeout_s}s: {probe}"
            self.page.wait_for_timeout(200)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def stored_checkout(self) -> Any:
        return self.page.evaluate("() => sessionStorage.getItem('checkout.state')")

    def reservations(self) -> list[dict[str, Any]]:
        """The user's reservations, straight from the reservation API."""
        response = httpx.get(
            self.stack.url("reservation-api", "/api/reservations"),
            headers={"Authorization": f"Bearer {self.token}"},
        )
        response.raise_for_status()
        body: list[dict[str, Any]] = response.json()
        return body


@pytest.fixture
def shop(stack: RunningStack, page: Page) -> Shop:
    user = f"user_{uuid.uuid4().hex[:10]}"
    return Shop(stack, page, user, f"{user}@example.com")


@dataclass
class StripeControl:
    """The emulator's control API and its Stripe API, as the tests need them."""

    base: str

    def faults(self, status: int | None, count: int) -> None:
        body = {"api_status": status, "count": count, "delay_seconds": 0}
        httpx.post(f"{self.base}/_emulator/faults", json=body).raise_for_status()

    def complete(self, session_id: str, outcome: str) -> None:
        httpx.post(
            f"{self.base}/_emulator/checkout/sessions/{session_id}/complete",
            json={"outcome": outcome},
        ).raise_for_status()

    def sessions_of(self, user_id: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.base}/v1/checkout/sessions",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {DEV_STRIPE_API_KEY}"},
        )
        response.raise_for_status()
        return [s for s in response.json()["data"] if s.get("client_reference_id") == user_id]


@pytest.fixture
def stripe(stack: RunningStack) -> StripeControl:
    return StripeControl(stack.url("stripe-emulator"))
