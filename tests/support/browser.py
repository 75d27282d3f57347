"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Never a downloaded browser: ``CHATKIT_CHROMIUM`` names the executable (default
``/usr/bin/chromium``); the flags keep it off this machine's closed network.
"""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("CHATKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from a ``sync_playwright()`` instance."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
