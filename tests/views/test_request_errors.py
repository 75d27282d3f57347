"""Bodies Django cannot parse are a 4xx JSON answer on every view, never a 500.

Django raises ``TooManyFieldsSent``, ``TooManyFilesSent``, ``RequestDataTooBig``,
``MultiPartParserError`` or ``UnreadablePostError`` when a view (or the CSRF check of a
session-authenticated request, which reads ``request.POST``) parses such a body. Each
case is sent to each view of ``django_chatkit.urls`` through Django's test client, and
the form bodies to the endpoint through live daphne and uvicorn servers, on Django's
handler and on the lean path.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.middleware.csrf import CSRF_SESSION_KEY
from django.test import Client
from django.test.client import BOUNDARY, encode_multipart
from django.urls import reverse
from django.utils.crypto import get_random_string

from django_chatkit.attachments.files import file_token
from django_chatkit.exceptions import REQUEST_BODY_ERRORS, exception_response
from django_chatkit.models import Attachment, Thread, UploadState
from tests.support.attachments import TEXT, create_request
from tests.support.live import LiveServer, live_client

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINT = "/chatkit/"
UPLOAD = "/chatkit/attachments/upload/"


class BrokenStream:
    """A request body whose connection breaks: every read fails as a socket would."""

    def read(self, *args: Any) -> bytes:
        raise OSError("connection reset by peer")

    def readline(self, *args: Any) -> bytes:
        raise OSError("connection reset by peer")


@dataclass(frozen=True)
class BadBody:
    """A body Django refuses to parse, and the answer it must get."""

    content_type: str
    body: bytes
    status: int
    code: str
    broken: bool = False  # the connection breaks while the body is read

    def environ(self) -> dict[str, Any]:
        return {"wsgi.input": BrokenStream()} if self.broken else {}


# MULTIPART_CONTENT spelled differently: the test client sends these bytes as they are.
MULTIPART = f"multipart/form-data;boundary={BOUNDARY}"


TOO_BIG = 2_700_000


def _fields(count: int) -> bytes:
    return "&".join(f"f{i}=x" for i in range(count)).encode()


def _multipart(data: dict[str, Any]) -> bytes:
    return encode_multipart(BOUNDARY, data)


class _NamedFile:
    def __init__(self, name: str) -> None:
        self.name = name

    def read(self) -> bytes:
        return b"x"


BAD_BODIES = {
    # 1,001 fields (DATA_UPLOAD_MAX_NUMBER_FIELDS is 1,000), as a form and as multipart.
    "too_many_fields_form": BadBody(
        "application/x-www-form-urlencoded", _fields(1001), 400, "too_many_fields"
    ),
    "too_many_fields_multipart": BadBody(
        MULTIPART, _multipart({f"f{i}": "x" for i in range(1001)}), 400, "too_many_fields"
    ),
    # 101 files (DATA_UPLOAD_MAX_NUMBER_FILES is 100).
    "too_many_files": BadBody(
        MULTIPART,
        _multipart({"file": [_NamedFile(f"f{i}.txt") for i in range(101)]}),
        400,
        "too_many_files",
    ),
    # Form fields over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
    "data_too_big": BadBody(
        "application/x-www-form-urlencoded", b"f=" + b"x" * TOO_BIG, 413, "request_too_large"
    ),
    "data_too_big_multipart": BadBody(
        MULTIPART, _multipart({"f": "x" * TOO_BIG}), 413, "request_too_large"
    ),
    # multipart without a boundary.
    "multipart_invalid": BadBody("multipart/form-data", b"--x\r\n", 400, "invalid_request"),
    # The client's connection breaks while the body is read.
    "unreadable_json": BadBody("application/json", b"{}", 400, "unreadable_body", broken=True),
    "unreadable_form": BadBody(
        "application/x-www-form-urlencoded", b"f=x", 400, "unreadable_body", broken=True
    ),
    "unreadable_multipart": BadBody(
        MULTIPART, _multipart({"f": "x"}), 400, "unreadable_body", broken=True
    ),
}


@pytest.fixture
def browser(alice: Any) -> Client:
    """Alice's browser: session cookie and CSRF cookie plus header, CSRF enforced (so the
    endpoint's check reads ``request.POST``, as it does in production)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    token = get_random_string(32)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    client.defaults["HTTP_X_CSRFTOKEN"] = token
    return client


def _path(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


def _pending_upload_path(browser: Client) -> str:
    created = browser.post(
        ENDPOINT, create_request("n.txt", len(TEXT), "text/plain"), content_type="application/json"
    )
    assert created.status_code == 200, created.content
    return _path(created.json()["upload_descriptor"]["url"])


def _file_path(browser: Client) -> str:
    uploaded = browser.post(UPLOAD, {"file": _upload_file()})
    assert uploaded.status_code == 200, uploaded.content
    row = Attachment.objects.get(chatkit_id=uploaded.json()["id"])
    return reverse("django_chatkit:attachment-file", kwargs={"token": file_token(row.pk)})


def _upload_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("n.txt", TEXT, content_type="text/plain")


async def _content(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


# Where a view never parses the body as a form, it answers what it answers to any body.
NOT_A_FORM = (400, "invalid_request")  # the upload views: "Send the file in a 'file' field."


def _assert_answer(
    response: Any, bad: BadBody, caplog: pytest.LogCaptureFixture, expected: Any = None
) -> None:
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert (response.status_code, body["error"]) == (expected or (bad.status, bad.code)), body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in body["message"]
    assert _errors(caplog) == []


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_endpoint(browser: Client, case: str, caplog: pytest.LogCaptureFixture) -> None:
    bad = BAD_BODIES[case]
    caplog.set_level(logging.INFO)
    response = browser.post(ENDPOINT, bad.body, content_type=bad.content_type, **bad.environ())
    _assert_answer(response, bad, caplog)
    assert Thread.objects.count() == 0


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_direct_upload_view(browser: Client, case: str, caplog: pytest.LogCaptureFixture) -> None:
    bad = BAD_BODIES[case]
    caplog.set_level(logging.INFO)
    response = browser.post(UPLOAD, bad.body, content_type=bad.content_type, **bad.environ())
    _assert_answer(response, bad, caplog, NOT_A_FORM if case == "unreadable_json" else None)
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_two_phase_upload_url_view(
    browser: Client, case: str, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = BAD_BODIES[case]
    path = _pending_upload_path(browser)
    caplog.set_level(logging.INFO)
    response = getattr(Client(), method)(
        path, bad.body, content_type=bad.content_type, **bad.environ()
    )
    if method == "put" and not bad.broken:
        # A PUT body is the file itself, never parsed as a form: these bytes are text,
        # taken as the text file attachments.create announced.
        assert response.status_code == 200, response.content
        assert _errors(caplog) == []
        assert Attachment.objects.get().upload_state == UploadState.COMPLETE
        return
    not_a_form = method == "post" and case == "unreadable_json"
    _assert_answer(response, bad, caplog, NOT_A_FORM if not_a_form else None)
    row = Attachment.objects.get()
    assert row.upload_state == UploadState.PENDING  # the URL stays usable
    retry = Client().post(path, {"file": _upload_file()})
    assert retry.status_code == 200, retry.content


@pytest.mark.parametrize("method", ["get", "head"])
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_file_view(
    browser: Client, case: str, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The file view never reads a body: whatever one is sent, the file is served."""
    bad = BAD_BODIES[case]
    path = _file_path(browser)
    caplog.set_level(logging.INFO)
    response = Client().generic(
        method.upper(), path, bad.body, content_type=bad.content_type, **bad.environ()
    )
    assert response.status_code == 200
    if method == "get":
        assert async_to_sync(_content)(response) == TEXT
    assert _errors(caplog) == []


@pytest.mark.parametrize("error", REQUEST_BODY_ERRORS, ids=lambda error: error.__name__)
def test_one_mapping_answers_every_request_body_error(error: type[Exception]) -> None:
    response = exception_response(error("details a client should not see"))
    assert response is not None and 400 <= response.status_code < 500
    assert "details" not in json.loads(response.content)["message"]


def test_other_exceptions_are_not_mapped() -> None:
    assert exception_response(RuntimeError("a bug")) is None


# Not "multipart_invalid": daphne (Twisted) answers a multipart body without a boundary
# 400 itself, before Django sees it.
@pytest.mark.parametrize(
    "case", ["too_many_fields_form", "too_many_fields_multipart", "too_many_files", "data_too_big"]
)
def test_endpoint_through_a_live_server(
    endpoint_server: LiveServer,
    alice: Any,
    case: str,
) -> None:
    bad = BAD_BODIES[case]
    with live_client(endpoint_server, alice) as client:
        response = client.post(
            ENDPOINT, content=bad.body, headers={"Content-Type": bad.content_type}
        )
    assert response.headers["Content-Type"] == "application/json"
    assert (response.status_code, response.json()["error"]) == (bad.status, bad.code)
    log = endpoint_server.log()
    assert "Traceback" not in log and "ERROR" not in log


def test_endpoint_with_the_csrf_token_in_the_session(
    alice: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """``CSRF_USE_SESSIONS``: the check runs in a worker thread, and still reads the form."""
    settings.CSRF_USE_SESSIONS = True
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    session = client.session
    session[CSRF_SESSION_KEY] = token = get_random_string(32)
    session.save()
    client.defaults["HTTP_X_CSRFTOKEN"] = token
    bad = BAD_BODIES["too_many_fields_form"]
    caplog.set_level(logging.INFO)
    response = client.post(ENDPOINT, bad.body, content_type=bad.content_type)
    _assert_answer(response, bad, caplog)
