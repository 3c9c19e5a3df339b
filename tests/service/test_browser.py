"""The web inbox in a real browser: Debian's Chromium driven by Playwright's Python package
(no browser download) against the app under uvicorn on 127.0.0.1. A seller signs in, sees
only her items, opens one, reads why (the rule, a cited fact), and approves it: the paused run
resumes and the outbox carries the action out.

A screenshot of the inbox is saved under the test's output folder; with
``REVFIELD_SCREENSHOT=1`` it is also copied to ``docs/inbox.png`` (the README shows it).
Skipped, saying why, only where ``/usr/bin/chromium`` is missing or can't start (``make test``
installs it where it can: ``apt-get install chromium``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import Api, serving

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium, or a skip naming what is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install chromium` (make test tries)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="`pip install playwright`")
    with sync_api.sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        except sync_api.Error as exc:
            pytest.skip(f"{CHROMIUM} can't start here: {str(exc).splitlines()[0]}")
        try:
            yield launched
        finally:
            launched.close()


def test_a_seller_signs_in_reads_why_and_approves_in_chromium(
    api: Api, browser: Any, tmp_path: Path
):
    objection = api.get("/accounts/acme.io", "rex").json()["facts"]["objection"][0]
    mine = api.submit(
        10,
        cites=[objection["id"]],
        contact="pat@acme.io",
        body="Pat, 10% off the first year if you sign this quarter.",
    )
    api.submit(14, account="acme.io", subject="14% for acme.io, second thoughts")
    theirs = api.submit(12, account="beta.io")
    thread = f"submitted:{mine['event_id']}"
    before = api.get(f"/threads/{thread}/state", "ana").json()
    assert before["next"] and before["interrupts"]  # the run waits for ana

    with serving(api.make_app()) as base:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/")
        assert page.url == f"{base}/login"  # sign in first
        page.get_by_label("Your token").fill(api.tokens["ana"])
        page.get_by_label("Your token").press("Enter")
        page.wait_for_url(f"{base}/")

        items = page.locator("ol.items > li")
        assert items.count() == 2
        text = page.locator("main").inner_text()
        assert f"#{mine['review_id']}" in text and f"#{theirs['review_id']}" not in text
        assert "beta" not in text.lower()
        shot = tmp_path / "inbox.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("REVFIELD_SCREENSHOT") == "1":
            DOCS.mkdir(exist_ok=True)
            shutil.copyfile(shot, DOCS / "inbox.png")

        page.get_by_role("link", name=f"Open and answer #{mine['review_id']}").click()
        page.wait_for_url(f"{base}/items/{mine['review_id']}")
        why = page.locator(".why")
        for rule in mine["rules"]:
            assert why.get_by_text(rule, exact=True).is_visible()
        assert why.get_by_text(objection["value"]).is_visible()
        page.screenshot(path=str(tmp_path / "item.png"), full_page=True)

        signal = objection["source_signal_id"]  # the cited fact's signal, on the timeline
        why.get_by_role("link", name=f"signal #{signal}").click()
        page.wait_for_url(f"{base}/accounts/acme.io/timeline#signal-{signal}")
        assert page.locator(f"#signal-{signal}").is_visible()
        page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
        page.go_back()
        page.wait_for_url(f"{base}/items/{mine['review_id']}")

        page.get_by_role("button", name=f"Approve #{mine['review_id']}").click()
        page.wait_for_url(f"{base}/")
        notice = page.get_by_role("status").inner_text()
        assert f"Item #{mine['review_id']}: approved" in notice
        assert page.locator("ol.items > li").count() == 1
        context.close()

    (line,) = api.executed()
    executed = json.loads(line)
    assert executed["trace"]["approved_by"] == "ana"
    chain = next(
        a
        for a in api.get("/accounts/acme.io", "ana").json()["actions"]
        if a["id"] == mine["action_id"]
    )
    assert chain["status"] == "executed"
    after = api.get(f"/threads/{thread}/state", "ana").json()
    assert after["next"] == [] and after["interrupts"] == []  # the run resumed and ended
