"""Attachments on local disk (FileSystemStorage in a temp dir): uploads, signed URLs,
ownership, lifecycle, cleanup, model input, settings and checks."""

from __future__ import annotations

import base64
import json
from io import StringIO

import pytest
from chatkit import types as ck
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.utils import timezone

from django_chatkit.attachments import (
    DjangoAttachmentStore,
    composer_attachments,
    upload_strategy,
)
from django_chatkit.attachments.files import file_url, refresh_attachment
from django_chatkit.context import ChatKitContext
from django_chatkit.converters import DjangoThreadItemConverter
from django_chatkit.models import Attachment, Thread, ThreadItem, UploadState
from django_chatkit.store import DjangoStore
from tests.support.attachments import (
    EXE,
    HTML,
    JPEG,
    PDF,
    PNG,
    TEXT,
    UPLOAD,
    call,
    client_for,
    create_request,
    delete_request,
    delete_thread_request,
    items_request,
    media,
    old_token,
    path_of,
    png,
    read,
    send,
    stored_files,
    tamper,
    upload,
    uploaded,
)
from tests.support.protocol import new_thread

pytestmark = pytest.mark.django_db(transaction=True)

# direct upload ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shown",
    [
        ("../../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\win.png", "win.png"),
        ("/abs/root.png", "root.png"),
        ("\x00\x1b[31m.png", "[31m.png"),
    ],
)
async def test_direct_upload_stores_under_a_random_server_path(alice, settings, name, shown):
    client = await client_for(alice)

    response = await upload(client, name, PNG, "image/png")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["type"] == "image" and data["name"] == shown and data["mime_type"] == "image/png"
    assert "metadata" not in data and "upload_descriptor" not in data
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert row.user_id == alice.pk and row.upload_state == UploadState.COMPLETE
    assert row.size == len(PNG) and row.uploaded_at is not None
    assert row.file_name.startswith("chatkit/attachments/") and row.file_name.endswith(".png")
    assert "passwd" not in row.file_name and ".." not in row.file_name
    assert stored_files(settings) == [row.file_name]
    assert (media(settings) / row.file_name).read_bytes() == PNG
    preview = await (await client_for()).get(path_of(data["preview_url"]))
    assert await read(preview) == PNG


REFUSED_UPLOADS = {
    "oversize": ("big.txt", b"x" * 1025, "text/plain", 413, "attachment_too_large"),
    "disallowed type": ("page.html", HTML, "text/html", 415, "unsupported_attachment_type"),
    "executable": ("setup.exe", EXE, "application/x-msdownload", 415, None),
    "html as png": ("cat.png", HTML, "image/png", 415, "unsupported_attachment_type"),
    "exe as jpeg": ("cat.jpg", EXE, "image/jpeg", 415, None),
    "binary as text": ("notes.txt", EXE, "text/plain", 415, None),
    "image as text": ("notes.txt", PNG, "text/plain", 415, None),
    "text as pdf": ("doc.pdf", TEXT, "application/pdf", 415, None),
    "svg": ("x.svg", b"<svg onload=alert(1)/>", "image/svg+xml", 415, None),
    "unknown type, no extension": ("blob", EXE, None, 415, None),
}


@pytest.mark.parametrize("case", REFUSED_UPLOADS.values(), ids=REFUSED_UPLOADS.keys())
async def test_direct_upload_refuses_oversize_disallowed_and_lying_files(alice, settings, case):
    settings.CHATKIT_ATTACHMENT_MAX_BYTES = 1024
    name, content, mime, status, code = case
    client = await client_for(alice)

    response = await upload(client, name, content, mime)

    assert response.status_code == status, response.content
    assert code is None or response.json()["error"] == code
    assert await Attachment.objects.acount() == 0
    assert stored_files(settings) == []


async def test_oversize_upload_is_refused_from_its_content_length(alice, settings):
    settings.CHATKIT_ATTACHMENT_MAX_BYTES = 1024
    client = await client_for(alice)

    response = await upload(client, "big.txt", b"x" * (200 * 1024), "text/plain")

    assert response.status_code == 413
    assert stored_files(settings) == []


async def test_a_raster_image_declared_as_another_format_keeps_its_real_type(alice):
    client = await client_for(alice)

    data = await uploaded(client, "photo.png", JPEG, "image/png")

    assert data["mime_type"] == "image/jpeg"
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert row.file_name.endswith(".jpg")


async def test_an_undeclared_type_is_taken_from_the_name_and_verified(alice):
    client = await client_for(alice)

    data = await uploaded(client, "notes.txt", TEXT, "application/octet-stream")

    assert data["type"] == "file" and data["mime_type"] == "text/plain"


async def test_direct_upload_needs_a_login_and_the_csrf_token(alice):
    anonymous = await upload(await client_for(), "cat.png", PNG, "image/png")
    assert anonymous.status_code == 401

    no_csrf = await upload(await client_for(alice, enforce_csrf_checks=True), "c.png", PNG, None)
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["message"]

    missing_field = await (await client_for(alice)).post(UPLOAD, {"other": "x"})
    assert missing_field.status_code == 400
    assert await Attachment.objects.acount() == 0


# two-phase upload ------------------------------------------------------------------


async def create(client: AsyncClient, name="cat.png", size=70, mime="image/png"):
    response = await call(client, create_request(name, size, mime))
    return response, (json.loads(response.body) if response.status_code == 200 else None)


async def test_two_phase_upload_url_is_absolute_single_use_and_needs_no_cookie(alice, settings):
    client = await client_for(alice)
    response, data = await create(client, "../../x/cat.png")
    assert response.status_code == 200, response.body
    descriptor = data["upload_descriptor"]
    assert descriptor["method"] == "POST"
    assert descriptor["url"].startswith("http://testserver/chatkit/attachments/")
    assert data["name"] == "cat.png" and data["preview_url"].startswith("http://testserver/")
    assert "metadata" not in data
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert row.upload_state == UploadState.PENDING and row.file_name == ""

    # The bytes go to the upload URL; no session cookie and no CSRF token needed.
    cookieless = await client_for(enforce_csrf_checks=True)
    first = await upload(cookieless, "ignored.png", PNG, "image/png", path_of(descriptor["url"]))
    assert first.status_code == 200, first.content
    assert first.json()["id"] == data["id"] and "upload_descriptor" not in first.json()

    again = await upload(cookieless, "again.png", PNG, "image/png", path_of(descriptor["url"]))
    assert again.status_code == 403 and again.json()["error"] == "upload_url_used"
    await row.arefresh_from_db()
    assert row.upload_state == UploadState.COMPLETE and row.upload_nonce == ""
    assert stored_files(settings) == [row.file_name]

    _, events = await send(client, "echo look", [data["id"]])
    done = next(e for e in events if e["type"] == "thread.item.done")
    attachment = done["item"]["attachments"][0]
    assert attachment["id"] == data["id"] and "upload_descriptor" not in attachment
    assert await read(await cookieless.get(path_of(attachment["preview_url"]))) == PNG


async def test_two_phase_put_of_raw_bytes(alice):
    client = await client_for(alice)
    _, data = await create(client, "notes.txt", len(TEXT), "text/plain")
    url = path_of(data["upload_descriptor"]["url"])

    response = await (await client_for()).put(url, data=TEXT, content_type="text/plain")

    assert response.status_code == 200, response.content
    assert await DjangoAttachmentStore().read_bytes(data["id"], ChatKitContext(alice)) == TEXT


async def test_two_phase_refusals(alice, bob, settings):
    settings.CHATKIT_ATTACHMENT_MAX_BYTES = 1024
    client = await client_for(alice)

    too_big, _ = await create(client, "big.pdf", 4096, "application/pdf")
    assert too_big.status_code == 413
    wrong_type, _ = await create(client, "page.html", 10, "text/html")
    assert wrong_type.status_code == 415
    assert await Attachment.objects.acount() == 0

    _, data = await create(client)
    url = path_of(data["upload_descriptor"]["url"])
    prefix, token = url.rstrip("/").rsplit("/", 1)
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    anonymous = await client_for()

    async def attempt(path: str, content: bytes = PNG, who: AsyncClient = anonymous):
        return await upload(who, "cat.png", content, "image/png", path)

    forged = await attempt(f"{prefix}/{tamper(token)}/")
    assert (forged.status_code, forged.json()["error"]) == (403, "invalid_upload_url")
    expired_token = old_token({"p": row.pk, "n": row.upload_nonce}, upload=True)
    expired = await attempt(f"{prefix}/{expired_token}/")
    assert (expired.status_code, expired.json()["error"]) == (403, "upload_url_expired")
    wrong_nonce = await attempt(
        f"{prefix}/{old_token({'p': row.pk, 'n': 'x'}, upload=True, age=0)}/"
    )
    assert (wrong_nonce.status_code, wrong_nonce.json()["error"]) == (403, "upload_url_used")
    other_id = await attempt(url.replace(data["id"], "atc_other"))
    assert other_id.status_code == 404
    file_token_as_upload = await attempt(f"{prefix}/{old_token({'p': row.pk}, age=0)}/")
    assert file_token_as_upload.status_code == 403
    as_bob = await attempt(url, who=await client_for(bob))
    assert (as_bob.status_code, as_bob.json()["error"]) == (403, "forbidden")
    lying = await attempt(url, HTML)
    assert lying.status_code == 415
    oversize = await attempt(url, b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    assert oversize.status_code == 413
    assert stored_files(settings) == []

    # Refused files do not use the URL up; the real upload then succeeds.
    assert (await attempt(url)).status_code == 200


async def test_an_attachment_awaiting_its_upload_cannot_be_sent(alice):
    client = await client_for(alice)
    _, data = await create(client)

    response = await call(client, new_thread("echo hi", [data["id"]]))

    assert response.status_code == 404
    assert "not been uploaded" in json.loads(response.body)["message"]


# ownership -------------------------------------------------------------------------


async def test_foreign_attachment_ids_behave_like_missing_ones_at_every_step(alice, bob, settings):
    alices = await client_for(alice)
    bobs = await client_for(bob)
    data = await uploaded(alices)
    row = await Attachment.objects.aget(chatkit_id=data["id"])

    # use in a message
    sent = await call(bobs, new_thread("echo mine now", [data["id"]]))
    missing = await call(bobs, new_thread("echo mine now", ["atc_missing"]))
    assert sent.status_code == missing.status_code == 404
    assert json.loads(sent.body)["message"] == f"Attachment {data['id']} not found"
    # delete
    deleted = await call(bobs, delete_request(data["id"]))
    assert deleted.status_code == 404
    # load and read (the store, the converter)
    bob_context = ChatKitContext(bob)
    with pytest.raises(Exception, match="not found"):
        await DjangoStore().load_attachment(data["id"], bob_context)
    note = await DjangoThreadItemConverter(bob_context).attachment_to_message_content(
        ck.FileAttachment(id=data["id"], name="cat.png", mime_type="image/png")
    )
    assert note["type"] == "input_text" and "no longer available" in note["text"]
    # A same-id attachment of Bob's is his own row; Alice's is untouched.
    assert (media(settings) / row.file_name).read_bytes() == PNG
    assert await Attachment.objects.filter(user=alice).acount() == 1

    # Alice can do all of it.
    await send(alices, "echo mine", [data["id"]])
    await row.arefresh_from_db()
    assert row.thread_id is not None


# previews and downloads --------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, mime, content_type, disposition",
    [
        ("cat.png", PNG, "image/png", "image/png", 'inline; filename="cat.png"'),
        ("doc.pdf", PDF, "application/pdf", "application/pdf", 'attachment; filename="doc.pdf"'),
        ("n.txt", TEXT, "text/plain", "text/plain; charset=utf-8", 'attachment; filename="n.txt"'),
    ],
)
async def test_file_urls_serve_the_verified_type_without_cookies(
    alice, settings, name, content, mime, content_type, disposition
):
    settings.CHATKIT_ATTACHMENT_BASE_URL = "http://testserver"
    client = await client_for(alice)
    data = await uploaded(client, name, content, mime)
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    url = path_of(data.get("preview_url") or file_url(row.pk, None))
    anonymous = await client_for()

    response = await anonymous.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == disposition
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Length"] == str(len(content))
    assert await read(response) == content
    head = await anonymous.head(url)
    assert head.status_code == 200 and head["Content-Type"] == content_type


async def test_downloads_are_streamed_in_chunks(alice, settings):
    big = png(300, 300, noise=True)  # ~270 kB: several 64 kB chunks
    data = await uploaded(await client_for(alice), "big.png", big, "image/png")

    response = await (await client_for()).get(path_of(data["preview_url"]))

    assert isinstance(response, StreamingHttpResponse) and response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    assert len(chunks) > 3 and max(map(len, chunks)) <= 64 * 1024
    assert b"".join(chunks) == big


async def test_expired_forged_and_deleted_file_urls(alice):
    client = await client_for(alice)
    data = await uploaded(client)
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    url = path_of(data["preview_url"])
    prefix, token = url.rstrip("/").rsplit("/", 1)
    anonymous = await client_for()

    forged = await anonymous.get(f"{prefix}/{tamper(token)}/")
    assert (forged.status_code, forged.json()["error"]) == (403, "invalid_url")
    _, timestamp, signature = token.split(":")
    other_row = base64.urlsafe_b64encode(json.dumps({"p": row.pk + 1}).encode()).decode()
    swapped = await anonymous.get(f"{prefix}/{other_row.rstrip('=')}:{timestamp}:{signature}/")
    assert (swapped.status_code, swapped.json()["error"]) == (403, "invalid_url")
    expired = await anonymous.get(f"{prefix}/{old_token({'p': row.pk})}/")
    assert (expired.status_code, expired.json()["error"]) == (403, "url_expired")
    upload_token = old_token({"p": row.pk, "n": "x"}, upload=True, age=0)
    assert (await anonymous.get(f"{prefix}/{upload_token}/")).status_code == 403

    assert (await call(client, delete_request(data["id"]))).status_code == 200
    gone = await anonymous.get(url)
    assert gone.status_code == 404


async def test_preview_urls_are_signed_anew_whenever_they_are_loaded(alice, settings):
    client = await client_for(alice)
    data = await uploaded(client)
    thread_id, _ = await send(client, "echo hi", [data["id"]])
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    stale = old_token({"p": row.pk})
    # Make the stored message carry an expired URL, as it would after an hour.
    item = await ThreadItem.objects.aget(thread__chatkit_id=thread_id, type="user_message")
    # The stored URL's own token: the upload's may be a second older (tokens hold the time).
    stored_url = json.loads(item.payload)["attachments"][0]["preview_url"]
    item.payload = item.payload.replace(stored_url.split("/")[-2], stale)
    await item.asave()
    assert stale in item.payload

    response = await call(client, items_request(thread_id))

    assert response.status_code == 200, response.body
    listed = json.loads(response.body)["data"][0]["attachments"][0]["preview_url"]
    assert stale not in listed and listed.startswith("http://testserver/chatkit/attachments/")
    served = await (await client_for()).get(path_of(listed))
    assert await read(served) == PNG


def test_refreshing_leaves_foreign_urls_alone():
    image = ck.ImageAttachment(
        id="atc_1", name="a.png", mime_type="image/png", preview_url="https://cdn.example.com/a:b:c"
    )
    assert refresh_attachment(image, None) is image


# lifecycle -------------------------------------------------------------------------


async def test_deleting_an_attachment_removes_its_bytes(alice, settings):
    client = await client_for(alice)
    data = await uploaded(client)
    assert len(stored_files(settings)) == 1

    response = await call(client, delete_request(data["id"]))

    assert response.status_code == 200
    assert stored_files(settings) == []
    assert await Attachment.objects.acount() == 0


async def test_deleting_a_thread_removes_its_attachments_and_bytes(alice, settings):
    client = await client_for(alice)
    sent = await uploaded(client, "cat.png")
    other = await uploaded(client, "doc.pdf", PDF, "application/pdf")
    thread_id, _ = await send(client, "echo hi", [sent["id"]])
    kept = (await Attachment.objects.aget(chatkit_id=other["id"])).file_name

    response = await call(client, delete_thread_request(thread_id))

    assert response.status_code == 200
    assert [a async for a in Attachment.objects.values_list("chatkit_id", flat=True)] == [
        other["id"]
    ]
    assert stored_files(settings) == [kept]


async def test_deleting_a_user_removes_their_files(alice, settings):
    await uploaded(await client_for(alice))

    await alice.adelete()

    assert stored_files(settings) == []


def make_attachment(user, chatkit_id: str, age_hours: float, settings, thread=None) -> Attachment:
    name = f"chatkit/attachments/{chatkit_id}.bin"
    path = media(settings) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"data")
    return Attachment.objects.create(
        user=user,
        chatkit_id=chatkit_id,
        type="file",
        name="f.bin",
        mime_type="text/plain",
        size=4,
        file_name=name,
        thread=thread,
        created_at=timezone.now() - timezone.timedelta(hours=age_hours),
        payload=ck.FileAttachment(
            id=chatkit_id, name="f.bin", mime_type="text/plain"
        ).model_dump_json(),
    )


def test_cleanup_command_removes_old_unsent_uploads(alice, settings):
    thread = Thread.objects.create(
        user=alice, chatkit_id="thr_1", created_at=timezone.now(), payload="{}"
    )
    make_attachment(alice, "atc_old", 30, settings)
    make_attachment(alice, "atc_recent", 1, settings)
    make_attachment(alice, "atc_sent", 30, settings, thread=thread)
    Attachment.objects.create(  # an upload URL never used: no file at all
        user=alice, chatkit_id="atc_pending", type="file", name="x", mime_type="text/plain",
        upload_state=UploadState.PENDING, upload_nonce="n", payload="{}",
        created_at=timezone.now() - timezone.timedelta(days=3),
    )  # fmt: skip

    out = StringIO()
    call_command("chatkit_cleanup", "--dry-run", "-v", "2", stdout=out)
    assert "Would delete 2 attachment(s)" in out.getvalue()
    assert "atc_old chatkit/attachments/atc_old.bin" in out.getvalue()
    assert Attachment.objects.count() == 4

    out = StringIO()
    call_command("chatkit_cleanup", stdout=out)  # default age: 24 hours
    assert "Deleted 2 attachment(s)" in out.getvalue()
    remaining = sorted(Attachment.objects.values_list("chatkit_id", flat=True))
    assert remaining == ["atc_recent", "atc_sent"]
    assert not (media(settings) / "chatkit/attachments/atc_old.bin").exists()

    call_command("chatkit_cleanup", "--older-than", "30m", "--batch-size", "1", stdout=StringIO())
    assert list(Attachment.objects.values_list("chatkit_id", flat=True)) == ["atc_sent"]
    assert stored_files(settings) == ["chatkit/attachments/atc_sent.bin"]


def test_cleanup_command_age_defaults_to_the_setting(alice, settings):
    settings.CHATKIT_ATTACHMENT_CLEANUP_AGE = 3600
    make_attachment(alice, "atc_two_hours", 2, settings)
    call_command("chatkit_cleanup", stdout=StringIO())
    assert Attachment.objects.count() == 0


# model input -----------------------------------------------------------------------


async def test_converter_turns_stored_attachments_into_responses_input(alice):
    client = await client_for(alice)
    image = await uploaded(client, "cat.png", PNG, "image/png")
    pdf = await uploaded(client, "doc.pdf", PDF, "application/pdf")
    text = await uploaded(client, "notes.txt", TEXT, "text/plain")
    converter = DjangoThreadItemConverter(ChatKitContext(alice))
    store = DjangoStore()
    context = ChatKitContext(alice)

    async def convert(data):
        attachment = await store.load_attachment(data["id"], context)
        return await converter.attachment_to_message_content(attachment)

    as_image = await convert(image)
    assert as_image["type"] == "input_image"
    assert as_image["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    as_file = await convert(pdf)
    assert as_file["type"] == "input_file" and as_file["filename"] == "doc.pdf"
    assert as_file["file_data"] == "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    as_text = await convert(text)
    assert as_text == {
        "type": "input_text",
        "text": 'The user attached the file "notes.txt" (text/plain):\n' + TEXT.decode(),
    }

    thread_id, _ = await send(client, "echo look", [image["id"], text["id"]])
    items = await store.load_thread_items(thread_id, None, 10, "asc", context)
    model_input = await converter.to_agent_input(items.data)
    parts = model_input[0]["content"]
    assert [p["type"] for p in parts] == ["input_text", "input_image", "input_text"]

    await call(client, delete_request(pdf["id"]))
    gone = await converter.attachment_to_message_content(
        ck.FileAttachment(id=pdf["id"], name="doc.pdf", mime_type="application/pdf")
    )
    assert gone["type"] == "input_text" and "no longer available" in gone["text"]


# settings and checks ---------------------------------------------------------------


async def test_attachment_storage_is_chosen_by_alias(alice, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads")},
        },
    }
    settings.CHATKIT_ATTACHMENT_STORAGE = "uploads"
    settings.CHATKIT_ATTACHMENT_PATH_PREFIX = "chat/"

    data = await uploaded(await client_for(alice))

    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert row.storage == "uploads" and row.file_name.startswith("chat/")
    assert (tmp_path / "uploads" / row.file_name).read_bytes() == PNG
    assert stored_files(settings) == []


def test_upload_strategy_for_the_widget(rf, settings):
    request = rf.get("/", HTTP_HOST="chat.example.com", secure=True)
    assert upload_strategy(request) == {
        "type": "direct",
        "uploadUrl": "https://chat.example.com/chatkit/attachments/upload/",
    }
    settings.CHATKIT_UPLOAD_STRATEGY = "two_phase"
    assert upload_strategy(request) == {"type": "two_phase"}
    settings.CHATKIT_UPLOAD_STRATEGY = "chunked"
    with pytest.raises(ImproperlyConfigured, match="CHATKIT_UPLOAD_STRATEGY"):
        upload_strategy(request)


def test_composer_attachments_for_the_widget(settings):
    settings.CHATKIT_ATTACHMENT_ALLOWED_TYPES = ["image/png", "application/pdf"]
    settings.CHATKIT_ATTACHMENT_MAX_BYTES = 5_000_000
    settings.CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE = 3
    assert composer_attachments() == {
        "enabled": True,
        "maxSize": 5_000_000,
        "maxCount": 3,
        "accept": {"image/png": [".png"], "application/pdf": [".pdf"]},
    }


def test_urls_outside_a_request_need_the_base_url(settings):
    from django_chatkit.attachments.files import file_url

    with pytest.raises(ImproperlyConfigured, match="CHATKIT_ATTACHMENT_BASE_URL"):
        file_url(1, None)
    settings.CHATKIT_ATTACHMENT_BASE_URL = "https://chat.example.com/"
    assert file_url(1, None).startswith("https://chat.example.com/chatkit/attachments/files/")


def check_ids() -> list[str]:
    return [message.id for message in run_checks() if message.id.startswith("django_chatkit")]


def test_check_e010_unknown_storage_alias(settings):
    settings.CHATKIT_ATTACHMENT_STORAGE = "nope"
    assert "django_chatkit.E010" in check_ids()


def test_check_e011_unknown_upload_strategy(settings):
    settings.CHATKIT_UPLOAD_STRATEGY = "chunked"
    assert "django_chatkit.E011" in check_ids()


def test_check_w010_presigned_uploads_without_s3(settings):
    settings.CHATKIT_S3_PRESIGNED_UPLOADS = True
    assert "django_chatkit.W010" in check_ids()


def test_check_e005_attachment_limits(settings):
    settings.CHATKIT_ATTACHMENT_MAX_BYTES = 0
    assert "django_chatkit.E005" in check_ids()


def test_attachment_checks_pass_by_default():
    ids = check_ids()
    assert not {"django_chatkit.E010", "django_chatkit.E011", "django_chatkit.W010"} & set(ids)
