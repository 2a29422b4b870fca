"""The review page: served with a strict CSP over HTTP, and driven in a real Chromium.

The browser test runs the real app under uvicorn on 127.0.0.1 and Debian's Chromium through the
``playwright`` package (no browser download). It is skipped, saying why, when either is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from app.taxonomy import DraftState, Intent, RejectReason
from app.web.controller import CONTENT_SECURITY_POLICY, STATIC_DIR
from tests.conftest import Api, create_key, migrate
from tests.support.live_server import live_server
from tests.support.tickets import KETTLE as TICKET

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = "<img src=x onerror=alert(1)>"

KETTLE: dict[str, Any] = {**TICKET, "external_id": "web-kettle"}


# ---------------------------------------------------------------- HTTP level
class _PageScan(HTMLParser):
    """Collects what a strict CSP would block or what would load from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.urls: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self.in_script = True
            if not names.get("src"):
                self.problems.append("inline <script>")
        for attr in ("src", "href", "action"):
            if names.get(attr):
                self.urls.append(str(names[attr]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append("inline script text")


def _assert_strict_headers(response: Any) -> None:
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "unsafe" not in csp
    assert "http" not in csp
    assert "*" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_page_is_served_without_a_key_with_a_strict_csp(api: Api) -> None:
    for path in ("/", "/ui"):
        response = await api.client.get(path)  # no Authorization header
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        _assert_strict_headers(response)
        scan = _PageScan()
        scan.feed(response.text)
        assert scan.problems == []
        assert set(scan.urls) == {"/ui/app.css", "/ui/app.js", "#main"}
        assert 'lang="en"' in response.text
        assert '<label for="api-key">API key</label>' in response.text


async def test_assets_are_served_with_their_types_and_revalidate(api: Api) -> None:
    for name, media in (("app.js", "text/javascript"), ("app.css", "text/css")):
        response = await api.client.get(f"/ui/{name}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media)
        assert response.content == (STATIC_DIR / name).read_bytes()
        _assert_strict_headers(response)
        etag = response.headers["etag"]
        again = await api.client.get(f"/ui/{name}", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""


async def test_only_the_pages_files_are_reachable(api: Api) -> None:
    for path in (
        "/ui/controller.py",
        "/ui/__init__.py",
        "/ui/..%2Fcontroller.py",
        "/ui/nope.js",
        "/ui/index.html",
    ):
        response = await api.client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert (await api.client.get("/favicon.ico")).status_code == 204


async def test_vocabulary_comes_from_the_taxonomy(api: Api) -> None:
    response = await api.client.get("/ui/vocabulary.json")
    assert response.status_code == 200
    _assert_strict_headers(response)
    assert response.json() == {
        "intents": [i.value for i in Intent],
        "reject_reasons": [r.value for r in RejectReason],
        "draft_states": [s.value for s in DraftState],
    }


async def test_the_api_behind_the_page_still_needs_a_key(api: Api) -> None:
    response = await api.client.get("/v1/tickets")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert (await api.get("/v1/tickets")).status_code == 200
    paths = (await api.client.get("/schema/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert not any(p.startswith("/ui") for p in paths)


def test_script_never_parses_text_as_html() -> None:
    """The page renders buyer text with textContent only; these sinks must not appear at all."""
    source = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage",
    ):
        assert sink not in source, sink
    assert "sessionStorage" in source


# ---------------------------------------------------------------- real browser
def _require_browser() -> None:
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the `playwright` package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


@pytest.mark.browser
async def test_agent_reviews_a_draft_in_chromium(make_settings: Any) -> None:
    _require_browser()
    from playwright.async_api import Dialog, async_playwright, expect

    started = time.monotonic()
    settings = make_settings()
    await asyncio.to_thread(migrate, settings)
    key = await create_key(settings, ["admin"], name="web")
    headers = {"Authorization": f"Bearer {key}"}

    async with live_server(settings) as client:
        created = await client.post("/v1/tickets", json=KETTLE, headers=headers)
        assert created.status_code == 201, created.text
        ticket_id = created.json()["id"]
        drafted = await client.post(f"/v1/tickets/{ticket_id}/drafts", json={"generator": "template"}, headers=headers)
        assert drafted.status_code == 201, drafted.text
        draft = drafted.json()
        assert draft["citations"], "the template draft should cite the knowledge base"
        citation = draft["citations"][0]

        hostile_message = f"{HOSTILE}\nMy parcel never came. <script>alert(2)</script>"
        hostile = await client.post(
            "/v1/tickets", json={"message": hostile_message, "external_id": "web-hostile"}, headers=headers
        )
        assert hostile.status_code == 201, hostile.text
        hostile_id = hostile.json()["id"]
        other = await client.post(f"/v1/tickets/{hostile_id}/drafts", json={"generator": "template"}, headers=headers)
        assert other.status_code == 201, other.text
        other_draft = other.json()

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                page.set_default_timeout(15_000)
                dialogs: list[str] = []
                csp_violations: list[str] = []
                page_errors: list[str] = []

                async def on_dialog(dialog: Dialog) -> None:
                    dialogs.append(dialog.message)
                    await dialog.dismiss()

                page.on("dialog", on_dialog)
                page.on("pageerror", lambda exc: page_errors.append(str(exc)))
                page.on(
                    "console",
                    lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None,
                )

                # Sign in once: the key goes to sessionStorage, never into the URL.
                await page.goto(str(client.base_url).rstrip("/") + "/")
                await page.get_by_label("API key").fill(key)
                await page.get_by_label("Your name").fill("Ana")
                await page.get_by_role("button", name="Sign in").click()

                kettle_row = page.get_by_role("button", name="Broken kettle")
                await expect(kettle_row).to_be_visible()
                assert key not in page.url
                assert await page.evaluate("sessionStorage.getItem('replydesk.apiKey')") == key
                assert await page.evaluate("localStorage.length") == 0

                # Open the ticket: the buyer's message, triage and the draft with a citation.
                await kettle_row.click()
                await expect(page.locator("#detail-title")).to_have_text("Broken kettle")
                await expect(page.locator("#ticket-message")).to_have_text(KETTLE["message"])
                await expect(page.locator(".triage")).to_contain_text("damaged item")
                card = page.locator(f'article.draft[data-draft-id="{draft["id"]}"]')
                body = card.get_by_label("Reply to the buyer (you can edit it)")
                await expect(body).to_have_value(draft["body"])
                citations = card.locator(".citation")
                assert await citations.count() >= 1
                await expect(citations.first).to_contain_text(citation["title"])
                await expect(citations.first).to_contain_text(f"#{citation['anchor']}")
                await citations.first.get_by_text("Show passage").click()
                await expect(citations.first.locator(".passage-text")).to_be_visible()

                # Edit and approve.
                new_body = draft["body"] + "\n\nI have also asked Nordic Home to send a replacement lid today."
                await body.fill(new_body)
                await card.get_by_role("button", name="Save edit & approve").click()
                await expect(page.locator(f'article.draft[data-draft-id="{draft["id"]}"]')).to_have_attribute(
                    "data-state", "edited"
                )
                await expect(page.get_by_role("status")).to_contain_text("Edit saved and approved")

                stored = (await client.get(f"/v1/drafts/{draft['id']}", headers=headers)).json()
                assert stored["state"] == "edited"
                assert stored["version"] == 2
                assert stored["final_body"] == new_body
                assert stored["body"] == draft["body"]
                events = (await client.get(f"/v1/drafts/{draft['id']}/audit", headers=headers)).json()
                edit = next(e for e in events if e["action"] == "edit")
                assert edit["after_body"] == new_body
                assert edit["before_body"] == draft["body"]
                assert edit["actor"] == "web:Ana"
                assert edit["draft_version"] == 2

                # Hostile buyer text is shown as text; no element is injected anywhere.
                hostile_row = page.get_by_role("button", name=HOSTILE)
                await expect(hostile_row).to_be_visible()
                await hostile_row.click()
                await expect(page.locator("#ticket-message")).to_have_text(hostile_message)
                assert await page.locator("img").count() == 0
                assert await page.locator("body script").count() == 0

                # Someone else approves the draft first: the agent is told to reload.
                other_card = page.locator(f'article.draft[data-draft-id="{other_draft["id"]}"]')
                await expect(other_card).to_be_visible()
                raced = await client.post(
                    f"/v1/drafts/{other_draft['id']}/approve", headers={**headers, "If-Match": '"1"'}
                )
                assert raced.status_code == 200, raced.text
                await other_card.get_by_role("button", name="Approve", exact=True).click()
                await expect(other_card.locator(".banner.conflict")).to_contain_text("Someone else changed this draft")
                await other_card.get_by_role("button", name="Reload ticket").click()
                await expect(page.locator(f'article.draft[data-draft-id="{other_draft["id"]}"]')).to_have_attribute(
                    "data-state", "approved"
                )

                assert dialogs == []
                assert page_errors == []
                assert csp_violations == []
            finally:
                await browser.close()
    assert time.monotonic() - started < 60
