"""The admin in a real browser: Debian's headless Chromium driven by Playwright.

A staff member logs in, lists the threads and opens one with every item type; the
screenshots land in ``test-output/admin/browser/``. A thread whose every text field
holds script is opened too: no dialog may ever appear.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import sync_playwright

from tests.support.browser import launch_chromium
from tests.support.factories import (
    OUTPUT,
    XSS,
    add_feedback,
    add_items,
    make_attachment,
    make_thread,
    make_user,
    mixed_items,
)

SCREENSHOTS = OUTPUT / "browser"


def conversations():
    """A handful of threads as a support team would see them."""
    make_user("staff", superuser=True)
    users = {name: make_user(name) for name in ("alice", "bob", "chen", "dana")}
    now = timezone.now()
    thread = make_thread(users["alice"], "Where is my parcel?", updated=now)
    photo = make_attachment(users["alice"], thread, "damaged-box.png")
    invoice = make_attachment(
        users["alice"], thread, "invoice-7.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 40_000
    )
    rows = add_items(thread, mixed_items(thread, "", [photo, invoice]))
    by_type = {row.type: row for row in rows}
    add_feedback(users["alice"], [by_type["assistant_message"]], "positive")
    add_feedback(users["alice"], [by_type["widget"]], "negative")

    samples = [
        ("bob", "Refund for a broken kettle", "locked", 2, 5),
        ("chen", "Change my delivery address", "active", 5, 3),
        ("dana", "Invoice in English please", "closed", 30, 7),
        ("bob", "", "active", 50, 1),
        ("chen", "Warranty question", "active", 70, 11),
    ]
    for index, (owner, title, status, hours, items) in enumerate(samples):
        sample = make_thread(
            users[owner],
            title,
            status=status,
            created=datetime.now() - timedelta(hours=hours + 1),
            updated=now - timedelta(hours=hours),
        )
        sample_rows = add_items(sample, mixed_items(sample)[:items])
        if index % 2 == 0:
            add_feedback(users[owner], sample_rows[:1], "negative" if index else "positive")
    hostile = make_thread(users["dana"], f"Hostile {XSS}", updated=now - timedelta(days=3))
    add_items(hostile, mixed_items(hostile, XSS))
    return thread, hostile


@pytest.mark.django_db(transaction=True)
# The live server is WSGI: Django buffers the attachment view's async file stream, and says
# so with this warning (ASGI streams it). Admin pages themselves are plain sync views.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_staff_reads_a_thread_in_chromium(live_server):
    thread, hostile = conversations()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # The admin's navigation sidebar collapsed: more room for the pages themselves.
            page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

            page.goto(f"{live_server.url}/admin/login/?next=/admin/django_chatkit/thread/")
            page.fill("#id_username", "staff")
            page.fill("#id_password", "pw")
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")
            assert page.locator("#result_list tbody tr").count() == 7
            assert page.locator("#changelist-filter").is_visible()
            page.screenshot(path=str(SCREENSHOTS / "changelist.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/django_chatkit/thread/{thread.pk}/change/")
            page.wait_for_selector(".ck-items")
            assert page.locator("article.ck-item").count() == 11
            assert page.locator(".ck-badge-hidden").count() == 2
            # The thumbnail is a signed URL that really serves the image.
            # It loads lazily and after the page: in view, then wait until it has loaded or failed.
            thumbnail = page.locator("img.ck-thumb").first
            thumbnail.scroll_into_view_if_needed()
            image = thumbnail.element_handle()
            page.wait_for_function("(img) => img.complete", arg=image)
            assert page.evaluate("(img) => img.naturalWidth", image) == 48
            # Raw JSON on demand: closed until asked for.
            raw = page.locator("article[data-type=widget] details.ck-raw")
            assert not raw.locator("pre").is_visible()
            raw.locator("summary").click()
            assert '"copy_text"' in raw.locator("pre").inner_text()
            raw.locator("summary").click()
            page.screenshot(path=str(SCREENSHOTS / "transcript.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/django_chatkit/thread/{hostile.pk}/change/")
            page.wait_for_selector(".ck-items")
            first = page.locator("article[data-type=user_message] .ck-user-text")
            assert XSS in first.inner_text()  # shown as text...
            page.screenshot(path=str(SCREENSHOTS / "hostile.png"), full_page=True)
        finally:
            browser.close()

    assert dialogs == []  # ...and never run
    for name in ("changelist.png", "transcript.png", "hostile.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
    assert Path(SCREENSHOTS / "transcript.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
