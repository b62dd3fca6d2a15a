"""Browser tests: Playwright driving Debian's Chromium against the app on ``live_server``.

Every test here is marked ``e2e`` and runs on a transactional database (the live
server answers from its own thread, so it must see committed rows). Without
``/usr/bin/chromium`` the tests are skipped with the reason; CI installs it.

Each test fails on any console error of the pages it opened: that is how a
Content-Security-Policy violation (an inline script or style, a resource from
elsewhere) or a broken script shows up, and the CSP stays on for these tests.

Screenshots: ``shot(page, "step")`` saves every step into the git-ignored
``artifacts/screenshots/<test>/``; steps given a ``key`` are also copied to
``docs/screenshots/<key>.png`` (committed, shown in the README) when the run has
``UPDATE_SCREENSHOTS=1``, so ordinary runs leave the working tree alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
SKIP_REASON = (
    "Debian's Chromium (/usr/bin/chromium) is not installed; "
    "`apt-get install -y chromium` (CI does)"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
E2E_DIR = Path(__file__).resolve().parent
ROOT = E2E_DIR.parent.parent
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR not in Path(item.path).resolve().parents:
            continue
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.django_db(transaction=True))
        if not CHROMIUM.exists():
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def playwright(playwright: Playwright) -> Iterator[Playwright]:
    """pytest-playwright's, plus: once started, Playwright's sync API leaves an event
    loop running in this thread, and Django refuses ORM calls in a thread with a
    running loop (SynchronousOnlyOperation). The tests are synchronous, so allow them
    from then on, and only then: not merely because this folder was collected.
    Subprocesses that tests start get a clean environment (tests.helpers.operator_env)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield playwright
    if before is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(autouse=True)
def stripe_in_the_browser(card_payments) -> None:
    """Every page the browser opens gets its Stripe.js from the test run's localstripe
    (the app works with no internet: Payment Information would otherwise ask
    js.stripe.com for it)."""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    # pytest-playwright's --browser-channel does not find Debian's build; point at it.
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, live_server) -> dict:
    return {
        **browser_context_args,
        "base_url": live_server.url,
        "locale": "en-US",
    }


class ConsoleGuard:
    """Collects what a page complains about: console errors (Chromium logs CSP
    violations and failed loads there), CSP warnings, and uncaught exceptions."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.on("console", self._on_console)
        context.on("weberror", lambda web_error: self.problems.append(f"{web_error.error}"))
        return context

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            where = message.location.get("url", "")
            self.problems.append(f"console {message.type}: {message.text} ({where})")

    def forgive(self, text: str) -> None:
        """Drops what was reported so far that contains ``text``: for a test that opens
        an error page on purpose (Chromium logs its status as a failed load)."""
        self.problems = [problem for problem in self.problems if text not in problem]

    def check(self, step: str = "") -> None:
        if self.problems:
            found, self.problems = self.problems, []
            after = f" by step {step!r}" if step else ""
            pytest.fail(
                f"The browser reported problems{after}:\n" + "\n".join(found), pytrace=False
            )


@pytest.fixture
def console_guard() -> ConsoleGuard:
    return ConsoleGuard()


@pytest.fixture
def new_context(
    new_context, console_guard: ConsoleGuard
) -> Iterator[Callable[..., BrowserContext]]:
    """Every context a test opens (JavaScript on or off) is watched by the guard,
    and the test fails at the end if anything was reported after its last step."""

    def _new_context(**kwargs) -> BrowserContext:
        # The default screen is set here, not in browser_context_args, so that a test
        # can ask for another one (tests.e2e.checks.PHONE).
        context = console_guard.watch(new_context(**{"viewport": VIEWPORT, **kwargs}))
        context.set_default_timeout(TIMEOUT_MS)
        return context

    yield _new_context
    console_guard.check("the end of the test")


@pytest.fixture
def checked_context(new_context) -> Callable[..., BrowserContext]:
    """``checked_context(**kwargs)``: a context whose pages tests.e2e.checks.check_page
    can run axe-core in. The Content-Security-Policy refuses injected scripts, so these
    contexts bypass it (``bypass_csp=True``); every other context keeps it on, and the
    console guard still watches these for script errors. They also ask for reduced
    motion, which Bootstrap honours: axe then measures colours and boxes as they end
    up, not halfway through a button's or a popup's transition."""

    def _checked_context(**kwargs) -> BrowserContext:
        return new_context(bypass_csp=True, reduced_motion="reduce", **kwargs)

    return _checked_context


@pytest.fixture
def no_js_context(new_context) -> BrowserContext:
    """A second browser with JavaScript off: popups become confirmation pages."""
    return new_context(java_script_enabled=False)


@pytest.fixture
def shot(request: pytest.FixtureRequest, console_guard: ConsoleGuard) -> Callable[..., Path]:
    """``shot(page, "step", key=None)``: a full-page screenshot of this step, after
    checking the browser has had nothing to complain about so far."""
    folder = ARTIFACTS / request.node.originalname
    shutil.rmtree(folder, ignore_errors=True)
    counter = iter(range(1, 100))
    update_docs = os.environ.get("UPDATE_SCREENSHOTS", "") == "1"

    def _shot(page: Page, step: str, *, key: str | None = None) -> Path:
        console_guard.check(step)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{next(counter):02d}-{step}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        if key and update_docs:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / f"{key}.png")
        return path

    return _shot
