"""The attachment admin: list, preview, signed download, and the admin's own file view."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.contrib import admin as django_admin
from django.core.files.storage import storages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

from django_chatkit.models import Attachment
from tests.support.factories import (
    XSS,
    XSS_ESCAPED,
    add_items,
    make_attachment,
    make_thread,
    make_user,
    mixed_items,
    png_bytes,
    record_counts,
)

CHANGELIST = "/admin/django_chatkit/attachment/"

urlpatterns = [path("admin/", django_admin.site.urls)]  # no django_chatkit.urls mounted


def body(response) -> bytes:
    """All of a (possibly async) streaming response, closed properly afterwards."""
    content = response.streaming_content
    if hasattr(content, "__aiter__"):

        async def collect() -> bytes:
            return b"".join([chunk async for chunk in content])

        return async_to_sync(collect)()
    return b"".join(content)


def rows_of(html: str) -> list[str]:
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return body.split("</tr>")[:-1]


@pytest.mark.django_db
def test_changelist_columns(viewer_client, alice):
    thread = make_thread(alice, "Holiday photos")
    make_attachment(alice, thread, f"beach {XSS}.png")
    make_attachment(alice, None, "notes.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 2000)
    html = viewer_client.get(CHANGELIST).content.decode()
    assert XSS not in html
    pdf, png = rows_of(html)  # newest first
    assert f"beach {XSS_ESCAPED}.png" in png
    assert ">alice<" in png and ">Holiday photos</a>" in png
    assert 'class="field-type">image<' in png and ">image/png<" in png
    assert re.search(r'<img class="ck-thumb" src="/chatkit/attachments/files/[^"]+/"', png)
    assert re.search(r'<a href="/chatkit/attachments/files/[^"]+/">Download</a>', png)
    assert ">2.0\xa0KB<" in pdf  # 2,009 bytes
    assert 'class="field-thread_link">-<' in pdf  # not in a thread (yet)
    assert "ck-thumb" not in pdf  # no preview of a PDF


@pytest.mark.django_db
def test_changelist_query_count_does_not_grow_with_rows(viewer_client, alice):
    def fill(count: int) -> None:
        for index in range(count):
            make_attachment(alice, make_thread(alice, f"t{index}"), f"f{index}.png", data=b"x")

    fill(5)
    with CaptureQueriesContext(connection) as context:
        response = viewer_client.get(CHANGELIST)
    five = len(context.captured_queries)
    assert len(rows_of(response.content.decode())) == 5
    fill(45)
    with CaptureQueriesContext(connection) as context:
        response = viewer_client.get(CHANGELIST)
    fifty = len(context.captured_queries)
    assert len(rows_of(response.content.decode())) == 50
    assert fifty == five
    record_counts("attachment changelist", {"5 attachments": five, "50 attachments": fifty})


@pytest.mark.django_db(transaction=True)  # the signed file view reads in another thread
def test_preview_and_download_links_are_signed_and_serve_the_bytes(viewer_client, alice):
    thread = make_thread(alice, "t")
    image = make_attachment(alice, thread, "photo.png")
    document = make_attachment(alice, thread, "report.pdf", "application/pdf", b"%PDF-1.4 hi")
    html = viewer_client.get(reverse("admin:django_chatkit_attachment_change", args=[image.pk]))
    html = html.content.decode()
    preview = re.search(r'<img class="ck-thumb" src="([^"]+)"', html).group(1)
    download = re.search(r'<a href="([^"]+)">Download</a>', html).group(1)
    # Both are the attachment's signed file URL (signed separately: the timestamp inside
    # may differ by a second).
    assert preview.startswith("/chatkit/attachments/files/")
    assert download.startswith("/chatkit/attachments/files/")
    client = Client()  # signed: no session needed, as for ChatKit itself
    for url in (preview, download):
        response = client.get(url)
        assert response.status_code == 200
        assert body(response) == png_bytes()
        assert response["Content-Type"] == "image/png"

    html = viewer_client.get(reverse("admin:django_chatkit_attachment_change", args=[document.pk]))
    download = re.search(r'<a href="([^"]+)">Download</a>', html.content.decode()).group(1)
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert body(response) == b"%PDF-1.4 hi"
    assert client.get(download.replace("/files/", "/files/x")).status_code == 403  # forged


@pytest.mark.django_db
def test_transcript_shows_thumbnails_with_absolute_signed_links(viewer_client, alice):
    thread = make_thread(alice, "t")
    image = make_attachment(alice, thread, "photo.png")
    add_items(thread, mixed_items(thread, "", [image])[:1])
    html = viewer_client.get(reverse("admin:django_chatkit_thread_change", args=[thread.pk]))
    assert re.search(
        r'<img class="ck-thumb" src="http://testserver/chatkit/attachments/files/[^"]+/"',
        html.content.decode(),
    )


@pytest.mark.django_db
def test_detail_page_is_read_only(viewer_client, alice):
    attachment = make_attachment(alice, make_thread(alice, "t"), "photo.png")
    client = viewer_client
    response = client.get(reverse("admin:django_chatkit_attachment_change", args=[attachment.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html
    assert 'style="max-width:64px;max-height:64px"' in html
    assert attachment.chatkit_id in html and "Uploaded" in html  # upload state


@pytest.mark.django_db
def test_deleting_an_attachment_deletes_its_file(client, alice, django_capture_on_commit_callbacks):
    client.force_login(make_user("root", superuser=True))
    attachment = make_attachment(alice, make_thread(alice, "t"), "photo.png")
    assert storages["default"].exists(attachment.file_name)
    url = reverse("admin:django_chatkit_attachment_delete", args=[attachment.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Attachment.objects.exists()
    assert not storages["default"].exists(attachment.file_name)


# Without django_chatkit.urls: the admin's own, permission-checked file view ---------------


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_admin_file_view_when_the_public_urls_are_not_mounted(viewer_client, alice):
    thread = make_thread(alice, "t")
    image = make_attachment(alice, thread, "photo.png")
    document = make_attachment(alice, thread, "page.html", "text/html", b"<script>x</script>")
    disguised = make_attachment(alice, thread, "evil.png", "image/svg+xml", b"<svg onload=x>")
    file_url = reverse("admin:django_chatkit_attachment_file", args=[image.pk])

    html = viewer_client.get(CHANGELIST).content.decode()
    assert f'<img class="ck-thumb" src="{file_url}?inline=1"' in html
    svg_url = reverse("admin:django_chatkit_attachment_file", args=[disguised.pk])
    assert f'src="{svg_url}' not in html  # no inline preview of SVG

    response = viewer_client.get(file_url + "?inline=1")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert body(response) == png_bytes()
    for attachment in (document, disguised):
        url = reverse("admin:django_chatkit_attachment_file", args=[attachment.pk])
        response = viewer_client.get(url + "?inline=1")
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        body(response)  # closes the file

    storages["default"].delete(image.file_name)
    assert viewer_client.get(file_url).status_code == 404
    Attachment.objects.filter(pk=image.pk).update(file_name="")  # metadata only, no bytes
    assert viewer_client.get(file_url).status_code == 404
    html = viewer_client.get(reverse("admin:django_chatkit_attachment_change", args=[image.pk]))
    assert "Download</a>" not in html.content.decode()
    assert (
        viewer_client.get(reverse("admin:django_chatkit_attachment_file", args=[0])).status_code
        == 404
    )
    assert Client().get(file_url).status_code == 302  # anonymous: to the login page
