"""Headless Chromium for the browser tests (tests/browser): where it is, how it is launched,
the marks that skip a module without it, and small helpers for pages.

The fixtures built on these (the browser, a page, the module's store and reader) are in
tests/browser/conftest.py.
"""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("NEWSFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

#: ``pytestmark`` of a browser test module: real servers, and skipped where Debian's chromium
#: or the playwright wheel is missing.
BROWSER_TESTS = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() or shutil.which("chromium")),
        reason=f"chromium not found at {CHROMIUM}: run `bash tests/browser/setup.sh` "
        "(apt-get install chromium fonts-noto-cjk)",
    ),
    pytest.mark.skipif(find_spec("playwright") is None, reason="playwright wheel missing"),
]


def chromium_path() -> str | None:
    """``CHROMIUM`` where it exists, else the ``chromium`` on the PATH."""
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


async def new_page(browser: Any, **options: Any) -> Any:
    """A page in a context of its own (desktop size, English) unless ``options`` say else."""
    options = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US", **options}
    context = await browser.new_context(**options)
    return await context.new_page()


async def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def text(page: Any, selector: str) -> str:
    return " ".join(((await page.locator(selector).first.text_content()) or "").split())
