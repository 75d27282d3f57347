"""Attachments on S3: django-storages' S3Storage against moto's server on loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from django_chatkit.models import Attachment, UploadState
from tests.support.attachments import (
    HTML,
    PDF,
    PNG,
    TEXT,
    call,
    client_for,
    create_request,
    delete_request,
    path_of,
    presigned,
    send,
    upload,
    uploaded,
)
from tests.support.protocol import new_thread

pytestmark = pytest.mark.django_db(transaction=True)


async def test_direct_upload_goes_to_the_bucket_and_previews_redirect(alice, s3_storage):
    client = await client_for(alice)

    data = await uploaded(client, "../../cat.png", PNG, "image/png")

    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert row.storage == "s3" and data["name"] == "cat.png"
    key = f"media/{row.file_name}"
    assert s3_storage.object_keys() == [key]
    assert row.file_name.startswith("chatkit/attachments/") and "cat" not in row.file_name
    stored = s3_storage.get(key)
    assert stored["Body"].read() == PNG and stored["ContentType"] == "image/png"

    preview = await (await client_for()).get(path_of(data["preview_url"]))
    assert preview.status_code == 302
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert preview["Location"].startswith(s3_storage.endpoint + "/")
    assert "X-Amz-Signature=" in preview["Location"]
    async with httpx.AsyncClient() as bucket:
        served = await bucket.get(preview["Location"])
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Content-Disposition"] == 'inline; filename="cat.png"'

    assert (await call(client, delete_request(data["id"]))).status_code == 200
    assert s3_storage.object_keys() == []
    assert (await (await client_for()).get(path_of(data["preview_url"]))).status_code == 404


async def test_two_phase_through_our_upload_view_on_s3(alice, s3_storage):
    client = await client_for(alice)
    response = await call(client, create_request("doc.pdf", len(PDF), "application/pdf"))
    data = json.loads(response.body)
    assert data["upload_descriptor"]["url"].startswith("http://testserver/chatkit/")

    sent = await upload(
        await client_for(),
        "doc.pdf",
        PDF,
        "application/pdf",
        path_of(data["upload_descriptor"]["url"]),
    )

    assert sent.status_code == 200, sent.content
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert s3_storage.get(f"media/{row.file_name}")["Body"].read() == PDF


async def test_presigned_two_phase_upload_goes_straight_to_the_bucket(alice, settings, s3_storage):
    settings.CHATKIT_S3_PRESIGNED_UPLOADS = True
    client = await client_for(alice)

    data, put = await presigned(client, "cat.png", PNG, "image/png")

    descriptor = data["upload_descriptor"]
    assert descriptor["method"] == "PUT" and descriptor["headers"] == {"Content-Type": "image/png"}
    assert descriptor["url"].startswith(s3_storage.endpoint + "/chatkit-attachments/media/")
    assert put.status_code == 200
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    assert row.upload_state == UploadState.PRESIGNED

    # Verified the first time it is used: sent in a message (or previewed).
    thread_id, _ = await send(client, "echo look", [data["id"]])
    await row.arefresh_from_db()
    assert row.upload_state == UploadState.COMPLETE and row.size == len(PNG)
    assert row.thread_id is not None
    preview = await (await client_for()).get(path_of(data["preview_url"]))
    async with httpx.AsyncClient() as bucket:
        assert (await bucket.get(preview["Location"])).content == PNG

    assert (
        await call(client, {"type": "threads.delete", "params": {"thread_id": thread_id}})
    ).status_code == 200
    assert s3_storage.object_keys() == []
    assert await Attachment.objects.acount() == 0


async def test_presigned_uploads_are_verified_before_use(alice, settings, s3_storage):
    settings.CHATKIT_S3_PRESIGNED_UPLOADS = True
    settings.CHATKIT_ATTACHMENT_MAX_BYTES = 1024
    client = await client_for(alice)

    lying, put = await presigned(client, "cat.png", PNG, "image/png", body=HTML)
    assert put.status_code == 200  # S3 takes anything...
    refused = await call(client, new_thread("echo hi", [lying["id"]]))
    assert refused.status_code == 415  # ...we do not, and the object is gone
    oversize, _ = await presigned(client, "n.txt", TEXT, "text/plain", body=b"x" * 2048)
    assert (await call(client, new_thread("echo hi", [oversize["id"]]))).status_code == 413
    assert s3_storage.object_keys() == []

    never, _ = await presigned(client, "n.txt", b"", "text/plain", body=b"")
    s3_storage.client.delete_object(Bucket="chatkit-attachments", Key=s3_storage.object_keys()[0])
    missing = await call(client, new_thread("echo hi", [never["id"]]))
    assert missing.status_code == 404
    assert (await (await client_for()).get(path_of(lying["preview_url"]))).status_code == 404


async def test_converter_reads_from_the_bucket(alice, s3_storage):
    from django_chatkit.context import ChatKitContext
    from django_chatkit.converters import DjangoThreadItemConverter
    from django_chatkit.store import DjangoStore

    data = await uploaded(await client_for(alice), "n.txt", TEXT, "text/plain")
    context = ChatKitContext(alice)
    attachment = await DjangoStore().load_attachment(data["id"], context)

    part = await DjangoThreadItemConverter(context).attachment_to_message_content(attachment)

    assert part["text"].endswith(TEXT.decode())
