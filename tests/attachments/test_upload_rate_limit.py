"""``CHATKIT_UPLOAD_RATE_LIMIT``: direct and two-phase uploads count against a limit of
their own, answered ``429`` with ``Retry-After``; the setting is validated by checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_chatkit.checks import check_rate_limit
from django_chatkit.conf import conf
from django_chatkit.exceptions import RateLimited
from django_chatkit.models import Attachment
from django_chatkit.ratelimit import check_upload_rate_limit
from tests.support.attachments import (
    PDF,
    PNG,
    TEXT,
    call,
    client_for,
    create_request,
    send,
    stored_files,
    upload,
    uploaded,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]


def refused(response: Any) -> dict[str, Any]:
    """The body of a 429 answer, checked for its ``Retry-After``."""
    assert response.status_code == 429, response.content
    body = json.loads(response.content)
    assert body["error"] == "rate_limited"
    retry_after = response["Retry-After"]
    assert 1 <= int(retry_after) <= 60
    assert body["message"].endswith(f" {retry_after} seconds.")
    return body


async def test_direct_uploads_over_the_limit_are_429_and_store_nothing(
    alice: Any, settings: Any
) -> None:
    settings.CHATKIT_UPLOAD_RATE_LIMIT = "2/m"
    client = await client_for(alice)
    # Refused for another reason first (a type off the allow-list): not counted.
    assert (await upload(client, "page.html", b"<p>", "text/html")).status_code == 415
    await uploaded(client, "cat.png", PNG, "image/png")
    await uploaded(client, "doc.pdf", PDF, "application/pdf")
    files = stored_files(settings)

    body = refused(await upload(client, "n.txt", TEXT, "text/plain"))

    assert body["message"].startswith("Too many uploads: at most 2 per minute. Try again in ")
    assert await Attachment.objects.acount() == 2
    assert stored_files(settings) == files


async def test_two_phase_uploads_count_at_attachments_create(alice: Any, settings: Any) -> None:
    settings.CHATKIT_UPLOAD_RATE_LIMIT = (2, 60)
    client = await client_for(alice)
    too_big = create_request("big.pdf", conf.CHATKIT_ATTACHMENT_MAX_BYTES + 1, "application/pdf")
    assert (await call(client, too_big)).status_code == 413  # not counted
    await uploaded(client, "cat.png", PNG, "image/png")  # direct and two-phase share the count
    created = await call(client, create_request("doc.pdf", len(PDF), "application/pdf"))
    assert created.status_code == 200, created.body

    refused(await call(client, create_request("n.txt", len(TEXT), "text/plain")))

    assert await Attachment.objects.acount() == 2


async def test_the_upload_limit_is_separate_from_the_message_limit(
    alice: Any, settings: Any, django_user_model: Any
) -> None:
    settings.CHATKIT_RATE_LIMIT = "1/m"
    settings.CHATKIT_UPLOAD_RATE_LIMIT = "1/m"
    client = await client_for(alice)
    attachment = await uploaded(client, "cat.png", PNG, "image/png")
    await send(client, "echo look", [attachment["id"]])  # the one message of the minute
    refused(await upload(client, "n.txt", TEXT, "text/plain"))  # the one upload was used
    bob = await client_for(await django_user_model.objects.acreate_user("bob", password="pw"))
    await uploaded(bob, "n.txt", TEXT, "text/plain")  # per user


async def test_no_upload_limit_by_default(alice: Any) -> None:
    for _ in range(30):
        await check_upload_rate_limit(alice, now=1.0)


async def test_fixed_windows(alice: Any, settings: Any) -> None:
    settings.CHATKIT_UPLOAD_RATE_LIMIT = "1/h"
    await check_upload_rate_limit(alice, now=7200.0)
    with pytest.raises(RateLimited) as refusal:
        await check_upload_rate_limit(alice, now=10799.5)
    assert refusal.value.headers == {"Retry-After": "1"}
    await check_upload_rate_limit(alice, now=10800.0)


@pytest.mark.parametrize("rate", ["30", "30/week", "0/m", (30,), ("1", 2)])
def test_e006_upload_rate_limit_malformed(settings: Any, rate: Any) -> None:
    settings.CHATKIT_UPLOAD_RATE_LIMIT = rate
    [error] = check_rate_limit()
    assert error.id == "django_chatkit.E006"
    assert error.msg.startswith("CHATKIT_UPLOAD_RATE_LIMIT is not valid: ")


def test_e007_and_w006_apply_to_the_upload_limit(settings: Any) -> None:
    settings.CHATKIT_UPLOAD_RATE_LIMIT = "30/m"
    settings.CHATKIT_RATE_LIMIT_CACHE = "ratelimit"
    assert [message.id for message in check_rate_limit()] == ["django_chatkit.E007"]
    settings.CHATKIT_RATE_LIMIT_CACHE = "default"  # LocMemCache in the tests
    [warning] = check_rate_limit()
    assert warning.id == "django_chatkit.W006"
    assert warning.msg.startswith("CHATKIT_UPLOAD_RATE_LIMIT counts in the cache 'default'")
    settings.CHATKIT_RATE_LIMIT = "30/m"
    [warning] = check_rate_limit()
    assert warning.msg.startswith("CHATKIT_RATE_LIMIT and CHATKIT_UPLOAD_RATE_LIMIT count in ")
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache"},
    }
    settings.CHATKIT_RATE_LIMIT_CACHE = "shared"
    assert check_rate_limit() == []
