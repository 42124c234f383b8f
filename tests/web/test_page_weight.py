"""Page weight for slow links: compressed answers, versioned asset URLs cached for a year, and the
inbox and a task page usable within 2 s on a 1.6 Mbit/s, 150 ms link (1 s with a warm cache)."""
from __future__ import annotations

import gzip
import os
import re

import brotli
import pytest

from tests.helpers import Browser, Item, User, liaison
from web import assets

pytestmark = pytest.mark.sqlite_only
LEAD = "区科技局"
SLOW_LINK = {"offline": False, "downloadThroughput": 200_000, "uploadThroughput": 100_000, "latency": 150}



def logged_in(app, user="dispatcher") -> Browser:
    browser = Browser(app)
    assert browser.login(user).status_code == 302
    return browser


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', html)


@pytest.mark.parametrize("encoding, decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_pages_styles_scripts_and_json_are_compressed_when_asked(app, encoding, decode):
    browser = logged_in(app)
    page = browser.client.get("/dashboard", headers={"Accept-Encoding": encoding})
    assert page.headers["Content-Encoding"] == encoding and "Accept-Encoding" in page.headers["Vary"]
    html = decode(page.get_data()).decode("utf-8")
    assert "办理统计" in html
    urls = asset_urls(html)
    assert any("app.css" in u for u in urls) and any("echarts.min.js" in u for u in urls)
    for url in urls:
        answer = browser.client.get(url, headers={"Accept-Encoding": f"{encoding}, identity"})
        assert answer.status_code == 200 and answer.headers["Content-Encoding"] == encoding, url
        plain = browser.client.get(url, headers={"Accept-Encoding": "identity"})
        assert decode(answer.get_data()) == plain.get_data() and "Content-Encoding" not in plain.headers
        assert len(answer.get_data()) < len(plain.get_data()) / 2, url
    data = browser.client.get("/api/v1/openapi.json", headers={"Accept-Encoding": encoding})
    assert data.headers["Content-Encoding"] == encoding and decode(data.get_data()).startswith(b"{")


def test_downloads_are_not_compressed_again(app):
    browser = logged_in(app)
    ledger = browser.client.get("/ledgers/problems.xlsx", headers={"Accept-Encoding": "br, gzip"})
    assert ledger.status_code == 200 and "Content-Encoding" not in ledger.headers
    assert ledger.get_data()[:2] == b"PK"


def test_asset_urls_carry_their_content_hash_and_are_immutable(app):
    browser = logged_in(app)
    for page in ("/", "/dashboard", "/console"):
        urls = asset_urls(browser.get(page).get_data(as_text=True))
        assert urls and all(re.search(r"\?v=[0-9a-f]{12}$", u) for u in urls), (page, urls)
        for url in urls:
            answer = browser.client.get(url)
            assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    stale = browser.client.get("/static/app.css?v=000000000000")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    assert browser.client.get("/static/app.css").headers["Cache-Control"] == "no-cache"
    assert browser.client.get("/static/nothing.css").status_code == 404
    assert browser.client.get("/vendor/echarts/package.json").status_code == 404  # only built files
    assert browser.client.get("/static/../web/__init__.py").status_code == 404
    etag = browser.client.get("/static/app.js").headers["ETag"]
    assert browser.client.get("/static/app.js", headers={"If-None-Match": etag}).status_code == 304


def test_only_the_pages_that_need_a_library_load_it(app):
    browser = logged_in(app)
    inbox = " ".join(asset_urls(browser.get("/").get_data(as_text=True)))
    assert "echarts" not in inbox and "bpmn" not in inbox and ".js" not in inbox
    dashboard = " ".join(asset_urls(browser.get("/dashboard").get_data(as_text=True)))
    assert "echarts" in dashboard and "bpmn" not in dashboard


def test_a_changed_file_gets_a_new_url(app, tmp_path, monkeypatch):
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.css").write_text("body { color: red }", encoding="utf-8")
    monkeypatch.setattr(assets, "STATIC", static)
    with app.test_request_context():
        from flask import url_for

        first = url_for("static", filename="app.css")
        (static / "app.css").write_text("body { color: blue }", encoding="utf-8")
        os.utime(static / "app.css", ns=(1, 1))  # a different mtime, whatever the clock's resolution
        second = url_for("static", filename="app.css")
    assert first != second and first.startswith("/static/app.css?v=") and second.startswith("/static/app.css?v=")
    client = app.test_client()
    assert client.get(second).get_data() == b"body { color: blue }"
    assert client.get(second).headers["Cache-Control"].endswith("immutable")
    assert client.get(first).headers["Cache-Control"] == "no-cache"  # an old page still gets the file


def _ready_ms(user: User, url: str, selector: str) -> float:
    """Navigation start to the main content in the page, measured by the page's own clock."""
    user.page.goto(url, wait_until="commit")
    user.page.wait_for_selector(selector)
    return user.page.evaluate("performance.now()")


@pytest.mark.browser
@pytest.mark.slow
def test_inbox_and_task_page_are_usable_quickly_on_a_slow_link(chromium, server, zjtx):
    item = Item(zjtx)
    item.accept()
    item.dispatch(LEAD, days=5)
    task_id = item.task("sign", LEAD)["id"]
    user = User(chromium, server, liaison(LEAD), viewport={"width": 390, "height": 844})
    cdp = user.context.new_cdp_session(user.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
    pages = {"inbox": (f"{server}/", "table.tasks td.step"), "task": (f"{server}/tasks/{task_id}", "form.task-form")}
    cold, warm = {}, {}
    for name, (url, selector) in pages.items():
        cdp.send("Network.clearBrowserCache")  # a first visit: nothing cached
        cold[name] = _ready_ms(user, url, selector)
        warm[name] = _ready_ms(user, url, selector)  # the next visit
    assert all(ms < 2000 for ms in cold.values()), cold
    assert all(ms < 1000 for ms in warm.values()), warm
    assert user.errors == [] and user.foreign_requests() == []
