"""Operator flows in a real browser: headless Chromium (Debian's package, driven by
Playwright) against pytest-django's live server, with a real worker and a real receiver."""

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from tests.conftest import PROJECT_DIR
from tests.factories import USER_PASSWORD, WorkspaceFactory, operator_of
from webhooks.outbound.receiver import WebhookReceiver

# README's screens are refreshed with SCREENSHOT_DIR=docs/screenshots; by default a run
# writes them under var/ so it leaves the checkout clean.
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", PROJECT_DIR / "var" / "screenshots"))
if not SCREENSHOTS.is_absolute():
    SCREENSHOTS = PROJECT_DIR / SCREENSHOTS
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Waits for what the browser shows: long enough for a loaded CI machine, short on failure.
TIMEOUT_MS = 15_000
# The worker process needs the same permission the live server gets through `settings`.
WORKER_ENV = {"WEBHOOK_ALLOW_PRIVATE_DESTINATIONS": "1"}


def chromium_path():
    """The system's Chromium (Debian's package), else None: Playwright's own build, which
    bin/test installs with `playwright install chromium` where the system has none."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """One browser per module (launching costs ~1-2 s); each test gets a fresh context."""
    # Playwright's sync API runs an asyncio event loop in the test's thread, so Django sees a
    # "running event loop" and refuses ORM calls (SynchronousOnlyOperation) in the test body.
    # Nothing here is async: the ORM calls are ordinary blocking calls in a plain thread.
    # Set only while Playwright runs (module scope), so the rest of the suite, and the
    # subprocesses it starts (`check --deploy` warns about it), keep the protection.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server, settings):
    # The live server runs in this process, so `settings` reaches it: allow the loopback receiver.
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True
    settings.WEBHOOKS_BASE_URL = f"{live_server.url}/webhooks"
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"])  # the Copy buttons
    # The admin's navigation sidebar open, as an operator first sees it (the stock default):
    # the screens must fit 1280 px with it, and the screenshots show it.
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'true')")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def workspace(transactional_db):
    return WorkspaceFactory(name="Acme Outreach")


@pytest.fixture
def operator(workspace):
    return operator_of(workspace, username="olivia")


@pytest.fixture
def logged_in(page, operator):
    """The page, after the operator logged in through the login form."""
    page.goto("/admin/login/")
    page.fill("#id_username", operator.username)
    page.fill("#id_password", USER_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    return page


@pytest.fixture
def worker(start_worker):
    return start_worker(**WORKER_ENV)


def screenshot(page, name):
    """Save the viewport (not the full page: keeps the PNGs small) for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SCREENSHOTS / f"{name}.png")))


def in_viewport(page, selector):
    """True when the element is wholly inside the 1280×800 window as it is (no scrolling)."""
    box = page.locator(selector).first.bounding_box()
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and (box["x"] + box["width"] <= VIEWPORT["width"] and box["y"] + box["height"] <= VIEWPORT["height"])
    )


class ClickCounter:
    """Clicks and picks an operator makes on a page, counted (the mapping editor's budget)."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def click(self, selector):
        self.count += 1
        self.page.click(selector)

    def pick(self, selector, value):
        """Choosing from a picker: one click to open it, one on the choice; typed here."""
        self.count += 2
        self.page.fill(selector, value)


def expect_saved(page):
    """Wait for the admin's success message after a form POST, then for the whole page. If
    the page shows the form again instead, fail with what it says (its errors), not with a
    bare timeout. (A click waits for its navigation to start, not for the page to be parsed:
    read too early, a table can end mid-row.)"""
    try:
        page.wait_for_selector(".messagelist .success")
    except PlaywrightTimeout:
        shown = page.locator(".errornote, .errorlist, .messagelist").all_inner_texts()
        pytest.fail(f"No success message at {page.url}; the page shows: {shown}")
    page.wait_for_load_state()  # the message is at the top: the rest of the page parsed too
