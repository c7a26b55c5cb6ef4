"""Headless Chromium for UI tests: Debian's `chromium`, driven by Playwright's Python package.

Playwright's own browser download does not work on these machines, so it is pointed at the system
executable (`.ci/run` installs it on a fresh CI machine). Screenshots go to a folder CI can keep as
artifacts, whether the test passed or failed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from minimization_pipeline.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps calling home (updates, sync, QUIC probes) on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
# A cold webserver answers the UI's first GraphQL queries in seconds, on 2 busy cores more. Pages get it as
# their default; `expect` has its own (5 s), so assertions pass it explicitly.
UI_TIMEOUT_MS = 60_000
MAX_SCREENSHOT_HEIGHT = 12_000  # pixels: a runaway layout must not make a gigantic PNG

# The Dagster UI scrolls inside its own containers, not the document, so `full_page=True` alone would capture
# only the viewport: this measures how far the tallest inner scroll container overflows.
_OVERFLOW_JS = """
() => Math.max(0, ...Array.from(document.querySelectorAll('*')).map((element) => {
  const overflow = getComputedStyle(element).overflowY;
  return overflow === 'auto' || overflow === 'scroll' ? element.scrollHeight - element.clientHeight : 0;
}))
"""


def artifacts_dir() -> Path:
    """Where UI screenshots go: `$MINIMIZATION_TEST_ARTIFACTS/ui`, by default `test-artifacts/ui` in the repo."""
    root = Path(os.environ.get("MINIMIZATION_TEST_ARTIFACTS") or PROJECT_ROOT / "test-artifacts")
    folder = root / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def require_chromium() -> Path:
    """The browser, or a skip on a developer machine without it; under CI a missing browser is a failure,
    since `.ci/run` installs it and a skip there would silently drop the UI's acceptance test."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} is missing: apt-get install --no-install-recommends chromium"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs it; CI must not skip the browser test)")
    pytest.skip(reason)


@contextlib.contextmanager
def chromium_page() -> Iterator[Page]:
    """One fresh page in headless Chromium, with every Playwright wait bounded by ``UI_TIMEOUT_MS``."""
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.set_default_navigation_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def save_full_page(page: Page, path: Path) -> Path:
    """A PNG of everything the page shows, inner scroll areas included: the viewport is grown by their
    overflow (re-measured, since a taller viewport can re-flow), then restored."""
    width, height = VIEWPORT["width"], VIEWPORT["height"]
    for _ in range(3):
        overflow = int(page.evaluate(_OVERFLOW_JS))
        if overflow <= 0 or height >= MAX_SCREENSHOT_HEIGHT:
            break
        height = min(height + overflow, MAX_SCREENSHOT_HEIGHT)
        page.set_viewport_size({"width": width, "height": height})
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


@contextlib.contextmanager
def screenshot_when_done(page: Page, path: Path) -> Iterator[Path]:
    """Save ``path`` after the block, passed or failed: a failure's screenshot shows what was on screen."""
    try:
        yield path
    except BaseException:
        with contextlib.suppress(Exception):  # a broken page must not hide the assertion that failed
            save_full_page(page, path)
        raise
    save_full_page(page, path)
