"""Headless Chromium for the page tests: Debian's ``chromium`` driven by its ``chromedriver``.

Selenium is told both paths, so it never tries to download a browser or a driver. When
they are absent the tests skip with how to get them, except under CI (``CI`` set), where
``.ci/run`` installs them and a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")


def _paths() -> tuple[str, str] | None:
    browser = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver = shutil.which("chromedriver")
    return None if browser is None or driver is None else (browser, driver)


def require_chromium() -> tuple[str, str]:
    """The browser's and the driver's paths, or a skip (a failure under CI)."""
    paths = _paths()
    if paths is not None:
        return paths
    message = f"the page's browser test needs Debian's chromium and chromedriver: {INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run this test; .ci/run installs them)")
    pytest.skip(message)


@contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A headless Chromium WebDriver with a fresh profile, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = require_chromium()
    profile = tempfile.mkdtemp(prefix="qsession-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: Any) -> list[str]:
    """The browser console's errors since the last call (failed loads included)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]
