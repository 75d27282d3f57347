"""Presigned S3 uploads write to a staging key: once the upload is finalized, a PUT to the
URL again changes nothing served, and ``chatkit_cleanup`` deletes what it left.

Against moto's server mode through django-storages, as ``tests/attachments/test_s3.py``.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from unittest import mock

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.utils import timezone

from django_chatkit.attachments import DjangoAttachmentStore
from django_chatkit.attachments.files import finalize_presigned, is_staging_name
from django_chatkit.context import ChatKitContext
from django_chatkit.management.commands import chatkit_cleanup
from django_chatkit.models import Attachment, UploadState
from tests.support.attachments import PNG, client_for, path_of, png, presigned, send
from tests.support.s3 import BUCKET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def presigned_uploads(settings, s3_storage):
    settings.CHATKIT_S3_PRESIGNED_UPLOADS = True
    return s3_storage


def cleanup(*args: str) -> str:
    """``chatkit_cleanup --older-than 1h`` as if run two hours from now: what the test
    just wrote is old enough (ages are at least a second, S3 times are to the second)."""
    later = timezone.now() + timedelta(hours=2)
    out = StringIO()
    with mock.patch.object(chatkit_cleanup.timezone, "now", return_value=later):
        call_command("chatkit_cleanup", "--older-than", "1h", *args, stdout=out)
    return out.getvalue()


async def put(url: str, content: bytes, mime: str) -> int:
    async with httpx.AsyncClient() as bucket:
        response = await bucket.put(url, content=content, headers={"Content-Type": mime})
    return response.status_code


async def test_a_put_after_finalizing_changes_nothing_served(alice, presigned_uploads):
    s3 = presigned_uploads
    client = await client_for(alice)
    data, first = await presigned(client, "cat.png", PNG, "image/png")
    assert first.status_code == 200
    url = data["upload_descriptor"]["url"]
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    staged = f"media/{row.file_name}"
    assert is_staging_name(row.file_name) and f"/{BUCKET}/{staged}?" in url
    assert s3.object_keys() == [staged]

    await send(client, "echo look", [data["id"]])  # finalizes: copied, verified, unstaged

    await row.arefresh_from_db()
    final = f"media/{row.file_name}"
    assert row.upload_state == UploadState.COMPLETE and not is_staging_name(row.file_name)
    assert s3.object_keys() == [final]
    assert s3.get(final)["ContentType"] == "image/png"

    # S3 still takes the URL until it expires (another image, as it was signed for)...
    assert await put(url, png(2, 2), "image/png") == 200
    # ...but what is served and read stays what was verified.
    preview = await (await client_for()).get(path_of(data["preview_url"]))
    async with httpx.AsyncClient() as bucket:
        assert (await bucket.get(preview["Location"])).content == PNG
    context = ChatKitContext(user=alice)
    assert await DjangoAttachmentStore().read_bytes(data["id"], context) == PNG
    assert sorted(s3.object_keys()) == sorted([final, staged])

    assert "Would delete 1 leftover staging upload(s)." in await sync_to_async(cleanup)("--dry-run")
    assert sorted(s3.object_keys()) == sorted([final, staged])
    assert "Deleted 1 leftover staging upload(s)." in await sync_to_async(cleanup)()
    assert s3.object_keys() == [final]
    await row.arefresh_from_db()  # sent in a message: kept
    assert s3.get(final)["Body"].read() == PNG


async def test_an_upload_never_used_is_cleaned_up_with_its_staging_object(
    alice,
    presigned_uploads,
):
    s3 = presigned_uploads
    data, _ = await presigned(await client_for(alice), "cat.png", PNG, "image/png")
    assert len(s3.object_keys()) == 1

    # Awaited by its row: not a leftover; the row goes as abandoned, its object with it.
    output = await sync_to_async(cleanup)()
    assert "leftover" not in output and "Deleted 1 attachment(s)" in output
    assert s3.object_keys() == []
    assert not await Attachment.objects.filter(chatkit_id=data["id"]).aexists()


async def test_concurrent_finalizing_keeps_one_copy(alice, presigned_uploads):
    s3 = presigned_uploads
    data, _ = await presigned(await client_for(alice), "cat.png", PNG, "image/png")
    first = await Attachment.objects.aget(chatkit_id=data["id"])
    second = await Attachment.objects.aget(chatkit_id=data["id"])  # read before either ends

    done = await sync_to_async(finalize_presigned)(first)
    again = await sync_to_async(finalize_presigned)(second)

    assert again.upload_state == UploadState.COMPLETE and again.file_name == done.file_name
    assert s3.object_keys() == [f"media/{done.file_name}"]


async def test_rows_from_before_staging_keys_finalize_in_place(alice, presigned_uploads):
    s3 = presigned_uploads
    data, _ = await presigned(await client_for(alice), "cat.png", PNG, "image/png")
    row = await Attachment.objects.aget(chatkit_id=data["id"])
    legacy = "chatkit/attachments/2025/01/0123456789abcdef0123456789abcdef.png"
    s3.client.copy_object(
        Bucket=BUCKET,
        Key=f"media/{legacy}",
        CopySource={"Bucket": BUCKET, "Key": f"media/{row.file_name}"},
    )
    s3.client.delete_object(Bucket=BUCKET, Key=f"media/{row.file_name}")
    await Attachment.objects.filter(pk=row.pk).aupdate(file_name=legacy)
    await row.arefresh_from_db()

    done = await sync_to_async(finalize_presigned)(row)

    assert (done.upload_state, done.file_name) == (UploadState.COMPLETE, legacy)
    assert s3.object_keys() == [f"media/{legacy}"]
