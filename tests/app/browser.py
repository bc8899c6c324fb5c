"""Helpers of the real-browser tests: Debian's chromium through Playwright, and the app served by
``streamlit run app.py`` on a free 127.0.0.1 port over a data folder of the test's own.

Importing this module skips the importing test module when chromium is missing (and fails in
CI, where ``make test`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import ROOT

CHROMIUM = Path(os.environ.get("CLOSP_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts" / "browser"
MAP_FRAME = "iframe[title='streamlit_folium.st_folium']"
WAIT_MS = 60_000

if not CHROMIUM.exists():
    reason = f"{CHROMIUM} not found: `apt-get install -y chromium` (make test does it as root)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Page  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"streamlit not healthy after {seconds} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def serve_app(data_dir: Path, log: Path, **env: str) -> Iterator[str]:
    """``streamlit run app.py`` over ``data_dir`` on a free port; yields its URL; always stops."""
    port = free_port()
    environ = os.environ | {
        "CLOSP_DATA_DIR": str(data_dir),
        "CLOSP_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def result_count(page: Page) -> int:
    text = page.get_by_text(re.compile(r"^\d+ results")).first.inner_text(timeout=WAIT_MS)
    return int(text.split()[0])


# True once the newest map iframe holds `n` image overlays, every one of them loaded.
OVERLAYS_DRAWN = """
(n) => {
    const frames = document.querySelectorAll("iframe[title='streamlit_folium.st_folium']");
    if (!frames.length) return false;
    const doc = frames[frames.length - 1].contentDocument;
    if (!doc) return false;
    const imgs = Array.from(doc.querySelectorAll("img.leaflet-image-layer"));
    return imgs.length === n && imgs.every((img) => img.complete && img.naturalWidth > 0);
}
"""


def wait_results(page: Page, expected: int | None = None, overlays: int | None = None) -> int:
    """Wait for a results line (with ``expected`` results) and its overlays all drawn
    (``overlays``: how many, when not one per result)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        n = result_count(page)
        if expected is None or n == expected:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {expected} results, page shows {n}")
        time.sleep(0.1)
    drawn = n if overlays is None else overlays
    page.wait_for_function(OVERLAYS_DRAWN, arg=drawn, timeout=WAIT_MS, polling="raf")
    return n


IDLE = (
    "() => document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState !== 'running'"
)


def wait_idle(page: Page, settle_s: float = 0.3) -> None:
    """Wait for the app's script to stop running; ``settle_s`` first lets a rerun the last
    action asked for begin (a widget's change reaches the server a moment after the event)."""
    time.sleep(settle_s)
    page.wait_for_function(IDLE, timeout=WAIT_MS)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
