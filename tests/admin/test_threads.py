"""The thread admin: changelist, transcript, moderation, export, permissions.

Everything goes through Django's test client against real rows (SQLite on disk, or
PostgreSQL with ``DATABASE_URL``). Query counts are written to
``test-output/admin/query-counts.json`` for the record.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from chatkit import types as ck
from chatkit.widgets import DynamicWidgetRoot
from django.contrib import admin as django_admin
from django.contrib.admin.models import LogEntry
from django.core.files.storage import storages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone

from django_chatkit.admin import ThreadAdmin
from django_chatkit.context import ChatKitContext
from django_chatkit.models import Attachment, Feedback, Thread, ThreadItem, decode_thread_item
from django_chatkit.store import DjangoStore
from tests.support.factories import (
    XSS,
    XSS_ESCAPED,
    add_feedback,
    add_items,
    make_attachment,
    make_thread,
    make_user,
    mixed_items,
    record_counts,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_chatkit/thread/"
#: How the payload reads inside pretty-printed JSON on the page.
XSS_IN_JSON = XSS_ESCAPED.replace("&quot;", "\\&quot;")


def get_counting(client, url: str, params: dict | None = None):
    """GET ``url``; return the response and the SQL it ran (read before the next
    request, which resets Django's query log)."""
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
    return response, [query["sql"] for query in context.captured_queries]


def transcript_url(thread: Thread, **params: str) -> str:
    url = reverse("admin:django_chatkit_thread_change", args=[thread.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def thread_pks_in(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', html)]


@pytest.fixture
def mixed_thread(alice):
    """A thread with one item of every type, script in all of their text."""
    thread = make_thread(alice, f"Parcel {XSS}")
    image = make_attachment(alice, thread, f"photo {XSS}.png")
    document = make_attachment(alice, thread, "invoice.pdf", "application/pdf", b"%PDF-1.4 x")
    rows = add_items(thread, mixed_items(thread, XSS, [image, document]))
    by_type = {row.type: row for row in rows}
    add_feedback(alice, [by_type["assistant_message"]], "positive")
    add_feedback(alice, [by_type["widget"]], "negative")
    return thread


def many_threads(owner, count: int, items_each: int = 3) -> list[Thread]:
    threads = []
    for index in range(count):
        thread = make_thread(owner, f"Thread {index}")
        rows = add_items(thread, mixed_items(thread)[:items_each])
        add_feedback(owner, rows[:1], "positive" if index % 2 else "negative")
        threads.append(thread)
    return threads


# changelist ------------------------------------------------------------------------


def test_changelist_shows_title_owner_status_counts_and_dates(superuser_client, mixed_thread):
    response = superuser_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Parcel {XSS_ESCAPED}" in html
    assert XSS not in html
    row = html[html.index(f"Parcel {XSS_ESCAPED}") :]
    row = row[: row.index("</tr>")]
    assert ">alice<" in row
    assert ">Active<" in row
    assert 'class="field-item_count">11<' in row  # one item of each of the 11 types
    assert "+1</span>" in row and "-1</span>" in row  # feedback summary
    assert 'class="field-updated_at nowrap"' in row and 'class="field-created_at nowrap"' in row


def test_changelist_query_count_does_not_grow_with_rows(superuser_client, alice):
    many_threads(alice, 5)
    response, five = get_counting(superuser_client, CHANGELIST)
    assert len(thread_pks_in(response.content.decode())) == 5
    many_threads(alice, 45)
    response, fifty = get_counting(superuser_client, CHANGELIST)
    assert len(thread_pks_in(response.content.decode())) == 50
    assert len(fifty) == len(five), fifty
    # Searching message text (a JOIN on items) does not add queries per row either.
    response, searched = get_counting(superuser_client, CHANGELIST, {"q": "order"})
    assert len(thread_pks_in(response.content.decode())) == 50
    assert len(searched) == len(five), searched
    record_counts(
        "thread changelist",
        {"5 threads": len(five), "50 threads": len(fifty), "50 threads, search": len(searched)},
    )


def test_changelist_filters(superuser_client, alice):
    quiet = make_thread(alice, "", created=datetime(2023, 5, 1))
    locked = make_thread(alice, "locked", status="locked")
    liked = make_thread(alice, "liked")
    disliked = make_thread(alice, "disliked")
    add_feedback(alice, add_items(liked, mixed_items(liked)[:1]), "positive")
    add_feedback(alice, add_items(disliked, mixed_items(disliked)[:1]), "negative")

    def listed(**params) -> set[int]:
        response = superuser_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return set(thread_pks_in(response.content.decode()))

    assert f"(untitled) {quiet.chatkit_id}" in superuser_client.get(CHANGELIST).content.decode()
    assert listed(status__exact="locked") == {locked.pk}
    assert listed(feedback="any") == {liked.pk, disliked.pk}
    assert listed(feedback="positive") == {liked.pk}
    assert listed(feedback="negative") == {disliked.pk}
    assert listed(feedback="none") == {quiet.pk, locked.pk}
    assert listed(created_at__year="2023") == {quiet.pk}  # date_hierarchy
    # The "created" date filter, through the link the page offers.
    page = superuser_client.get(CHANGELIST).content.decode()
    this_year = re.search(r'href="\?(created_at__gte=[^"]+)"[^>]*>This year<', page).group(1)
    response = superuser_client.get(CHANGELIST + "?" + this_year.replace("&amp;", "&"))
    assert set(thread_pks_in(response.content.decode())) == {locked.pk, liked.pk, disliked.pk}


def test_search_by_title_owner_and_message_text(superuser_client, alice):
    bob = make_user("bob")
    bob.email = "robert@example.org"
    bob.save()
    by_title = make_thread(alice, "Refund for broken kettle")
    by_text = make_thread(alice, "untitled")
    add_items(by_text, mixed_items(by_text, "zanzibar"))  # several items mention it
    bobs = make_thread(bob, "hello")

    def found(q: str) -> list[int]:
        return thread_pks_in(superuser_client.get(CHANGELIST, {"q": q}).content.decode())

    assert found("kettle") == [by_title.pk]
    assert found("zanzibar") == [by_text.pk]  # listed once, though many items match
    assert found("bob") == [bobs.pk]
    assert found("robert@example") == [bobs.pk]
    assert found(by_title.chatkit_id) == [by_title.pk]
    # The item count is not multiplied by the JOIN of the search.
    html = superuser_client.get(CHANGELIST, {"q": "zanzibar"}).content.decode()
    assert 'class="field-item_count">11<' in html


# transcript ---------------------------------------------------------------------------


def test_transcript_renders_every_item_type(superuser_client, mixed_thread):
    response = superuser_client.get(transcript_url(mixed_thread))
    assert response.status_code == 200
    html = response.content.decode()
    types = re.findall(r'<article class="ck-item [^"]*" id="item-\d+" data-type="(\w+)"', html)
    assert types == [
        "user_message",
        "hidden_context_item",
        "sdk_hidden_context",
        "workflow",
        "task",
        "client_tool_call",
        "assistant_message",
        "widget",
        "generated_image",
        "structured_input",
        "end_of_turn",
    ]
    # user message: text, tag, quoted text, attachments (thumbnail + links), options
    assert f"Where is my order? {XSS_ESCAPED}" in html
    assert f"@order-7 {XSS_ESCAPED}" in html
    assert (
        f'<blockquote class="ck-quote" title="Quoted text">Your order shipped {XSS_ESCAPED}' in html
    )
    assert re.search(r'<img class="ck-thumb" src="[^"]+" alt="photo &lt;script', html)
    assert 'class="ck-download">invoice.pdf</a>' in html
    assert "<code>gpt-test</code>" in html and "<code>lookup</code>" in html
    # assistant message: markdown rendered, unsafe link left as text, sources
    assert "<strong>in transit</strong>" in html
    assert "<code>ACME</code>" in html and "<em>tomorrow</em>" in html
    assert '<a href="https://carrier.example/7" rel="noopener noreferrer nofollow"' in html
    assert "[bad](javascript:alert(1))" in html
    assert f"Tracking page {XSS_ESCAPED}" in html  # a javascript: source: title only
    assert f"Policy {XSS_ESCAPED} (policy.pdf)" in html
    assert f"Order 7 {XSS_ESCAPED} <code>order-7</code>" in html
    # widget: structure, text, actions, chart data, copy text
    assert 'class="ck-w ck-w-card"' in html and 'class="ck-w ck-w-row"' in html
    assert f"Order summary {XSS_ESCAPED}" in html
    assert f"[Track parcel {XSS_ESCAPED}]" in html and "→ track_parcel" in html
    assert "<th>Sales</th>" in html and "<td>Jan</td><td>3</td>" in html
    assert f"Small {XSS_ESCAPED}" in html
    assert f"Order summary: 42 EUR {XSS_ESCAPED}" in html  # copy text
    # client tool call: name, arguments, output, status
    assert f"get_location {XSS_ESCAPED}" in html
    assert "&quot;precision&quot;: &quot;city&quot;" in html
    assert f"&quot;city&quot;: &quot;Lyon {XSS_IN_JSON}" in html
    assert 'class="ck-status ck-status-completed">completed<' in html
    # workflow and task
    assert f"Looked up the order {XSS_ESCAPED}" in html
    assert "Check the <em>carrier</em>" in html
    assert f"parcel 7 status {XSS_ESCAPED}" in html
    assert f"Refunds {XSS_ESCAPED} (refunds.pdf)" in html
    assert f"Standalone task {XSS_ESCAPED}" in html
    # generated image (a raster data: URL is shown), structured input
    assert '<img class="ck-generated" src="data:image/png;base64,iVBORw0KGgo' in html
    assert f"Deliver where? {XSS_ESCAPED}" in html
    assert f"Answer: <mark>Home {XSS_ESCAPED}</mark>" in html
    assert "<em>not answered</em>" in html
    # hidden context, labelled as such
    assert html.count("Hidden — never shown to the user") == 2
    assert f"VIP customer {XSS_IN_JSON}" in html
    assert f"The user cancelled {XSS_ESCAPED}" in html
    # feedback on the items it was given to
    assert 'class="ck-fb ck-fb-positive"' in html and 'class="ck-fb ck-fb-negative"' in html
    # raw JSON of each item, on demand
    assert html.count('<details class="ck-raw"><summary>Raw JSON</summary>') == 11


def test_transcript_escapes_all_user_and_model_content(superuser_client, mixed_thread):
    html = superuser_client.get(transcript_url(mixed_thread)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x onerror" not in html
    assert 'href="javascript:' not in html.lower()
    assert 'src="javascript:' not in html.lower()
    assert html.count(XSS_ESCAPED) >= 20


def test_transcript_of_10000_items_is_one_page_in_constant_queries(superuser_client, alice):
    small = make_thread(alice, "small")
    add_items(small, [_message(small, index) for index in range(10)])
    big = make_thread(alice, "big")
    start = datetime.now() - timedelta(days=1)
    payload_of = _message(big, 0)
    rows = []
    for index in range(10_000):
        item = payload_of.model_copy(
            update={
                "id": f"msg_{index:05d}",
                "created_at": start + timedelta(seconds=index),
                "content": [ck.AssistantMessageContent(text=f"answer number {index}")],
            }
        )
        row = ThreadItem(thread=big)
        row.set_item(item)
        rows.append(row)
    ThreadItem.objects.bulk_create(rows, batch_size=2000)

    response, ten = get_counting(superuser_client, transcript_url(small))
    assert response.status_code == 200
    response, many = get_counting(superuser_client, transcript_url(big))
    html = response.content.decode()
    assert len(many) == len(ten), many
    assert html.count('<article class="ck-item') == ThreadAdmin.transcript_page_size == 50
    assert "Items 1\u201350 of 10000" in html
    assert "answer number 49<" in html and "answer number 50<" not in html
    # The item query reads one page, never the whole thread.
    item_queries = [sql for sql in many if 'FROM "django_chatkit_threaditem"' in sql]
    assert any("LIMIT 50" in sql for sql in item_queries), item_queries

    last = superuser_client.get(transcript_url(big, page="last")).content.decode()
    assert "Items 9951\u201310000 of 10000" in last and "answer number 9999<" in last
    assert '<a href="?page=199">199</a>' in last
    record_counts(
        "thread transcript",
        {"10 items": len(ten), "10000 items": len(many)},
    )


def _message(thread: Thread, index: int) -> ck.AssistantMessageItem:
    return ck.AssistantMessageItem(
        id=f"msg_small_{index}",
        thread_id=thread.chatkit_id,
        created_at=datetime.now() + timedelta(seconds=index),
        content=[ck.AssistantMessageContent(text=f"answer number {index}")],
    )


def test_transcript_survives_unknown_and_malformed_items(superuser_client, alice):
    thread = make_thread(alice, "odd")
    now = timezone.now()
    ThreadItem.objects.create(
        thread=thread, chatkit_id="x1", type="future_type", created_at=now, payload='{"a": 1}'
    )
    ThreadItem.objects.create(
        thread=thread, chatkit_id="x2", type="widget", created_at=now, payload="not json <b>"
    )
    odd_payloads = {
        "workflow": {"workflow": {"type": "custom", "summary": {"duration": 42}, "tasks": ["?"]}},
        "user_message": {"content": ["x"], "attachments": ["y"], "inference_options": None},
        "assistant_message": {"content": [{"text": "hi", "annotations": [{"source": 1}]}]},
        "structured_input": {"inputs": ["z", {"question": "Q?", "answer": None}]},
        "task": {"task": {"type": "thought", "content": "deep *thought*"}},
    }
    for index, (item_type, data) in enumerate(odd_payloads.items()):
        ThreadItem.objects.create(
            thread=thread,
            chatkit_id=f"y{index}",
            type=item_type,
            created_at=now,
            payload=json.dumps(data),
        )
    ThreadItem.objects.create(
        thread=thread,
        chatkit_id="y9",
        type="workflow",
        created_at=now,
        payload='{"workflow": {"type": "custom", "tasks": []}}',
    )
    response = superuser_client.get(transcript_url(thread))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No readable view for items of type “future_type”" in html
    assert "not json &lt;b&gt;" in html
    assert "<strong>Worked for 42 s</strong>" in html
    assert "deep <em>thought</em>" in html
    assert "<strong>Q?</strong>" in html and "<em>not answered</em>" in html


def test_item_json_view(superuser_client, mixed_thread, alice):
    row = mixed_thread.items.get(type="widget")
    url = reverse("admin:django_chatkit_thread_item_json", args=[mixed_thread.pk, row.pk])
    response = superuser_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.content) == json.loads(row.payload)
    other = make_thread(alice, "other")
    wrong = reverse("admin:django_chatkit_thread_item_json", args=[other.pk, row.pk])
    assert superuser_client.get(wrong).status_code == 404
    missing = reverse("admin:django_chatkit_thread_item_json", args=[999999, row.pk])
    assert superuser_client.get(missing).status_code == 404


def test_missing_thread_redirects_like_the_admin_does(superuser_client):
    response = superuser_client.get(transcript_url(Thread(pk=999999)), follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert "doesn\u2019t exist" in response.content.decode()


# moderation --------------------------------------------------------------------------


def _load_thread(thread: Thread) -> ck.ThreadMetadata:
    context = ChatKitContext(user=thread.user)
    return async_to_sync(DjangoStore().load_thread)(thread.chatkit_id, context)


@pytest.mark.django_db(transaction=True)  # the store reads from another thread
def test_lock_close_and_reopen_actions(superuser_client, alice):
    first, second = make_thread(alice, "one"), make_thread(alice, "two")
    before = Thread.objects.get(pk=first.pk).updated_at

    def act(action: str, reason: str = "") -> None:
        response = superuser_client.post(
            CHANGELIST,
            {"action": action, "_selected_action": [first.pk, second.pk], "reason": reason},
        )
        assert response.status_code == 302

    act("lock_threads", "Under review")
    status = _load_thread(first).status
    assert isinstance(status, ck.LockedStatus) and status.reason == "Under review"
    assert Thread.objects.get(pk=second.pk).status == "locked"
    assert Thread.objects.get(pk=first.pk).updated_at == before  # not user activity

    act("close_threads", "Resolved")
    status = _load_thread(second).status
    assert isinstance(status, ck.ClosedStatus) and status.reason == "Resolved"

    response = superuser_client.post(
        CHANGELIST,
        {"action": "close_threads", "_selected_action": [first.pk], "reason": "Resolved"},
        follow=True,
    )
    assert "0 threads are now closed." in response.content.decode()  # already so

    act("reopen_threads", "ignored")
    assert isinstance(_load_thread(first).status, ck.ActiveStatus)
    assert set(Thread.objects.values_list("status", flat=True)) == {"active"}
    messages = list(
        LogEntry.objects.filter(object_id=str(first.pk)).values_list("change_message", flat=True)
    )
    assert "Status set to Locked: Under review" in messages
    assert "Status set to Active" in messages


@pytest.mark.django_db(transaction=True)  # the store reads from another thread
def test_status_is_what_the_users_chatkit_sees(client, superuser_client, alice):
    thread = make_thread(alice, "talk")
    url = reverse("admin:django_chatkit_thread_status", args=[thread.pk])
    response = superuser_client.post(url, {"status": "locked", "reason": "Spam"})
    assert response.status_code == 302 and response["Location"] == transcript_url(thread)
    client.force_login(alice)
    response = client.post(
        "/chatkit/",
        json.dumps({"type": "threads.get_by_id", "params": {"thread_id": thread.chatkit_id}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert json.loads(response.content)["status"] == {"type": "locked", "reason": "Spam"}


def test_status_view(superuser_client, alice):
    thread = make_thread(alice, "talk")
    url = reverse("admin:django_chatkit_thread_status", args=[thread.pk])
    assert superuser_client.get(url).status_code == 405
    superuser_client.post(url, {"status": "closed", "reason": "Done"})
    assert Thread.objects.get(pk=thread.pk).status == "closed"
    html = superuser_client.get(transcript_url(thread)).content.decode()
    assert "ck-status-closed" in html and "— Done" in html
    assert 'name="status" value="active"' in html  # Reopen offered
    response = superuser_client.post(url, {"status": "nonsense"}, follow=True)
    assert "Unknown status." in response.content.decode()
    assert Thread.objects.get(pk=thread.pk).status == "closed"
    missing = reverse("admin:django_chatkit_thread_status", args=[999999])
    assert superuser_client.post(missing, {"status": "locked"}).status_code == 404


def test_delete_thread_deletes_items_feedback_attachments_and_files(
    superuser_client, mixed_thread, django_capture_on_commit_callbacks
):
    storage = storages["default"]
    files = list(Attachment.objects.filter(thread=mixed_thread).values_list("file_name", flat=True))
    assert len(files) == 2 and all(storage.exists(name) for name in files)
    url = reverse("admin:django_chatkit_thread_delete", args=[mixed_thread.pk])

    confirm = superuser_client.get(url).content.decode()
    assert "Threads: 1" in confirm and "Thread items: 11" in confirm
    assert "Attachments: 2" in confirm
    assert "Thread item:" not in confirm  # a summary, not one line per item

    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Thread.objects.filter(pk=mixed_thread.pk).exists()
    assert not ThreadItem.objects.exists() and not Feedback.objects.exists()
    assert not Attachment.objects.exists()
    assert not any(storage.exists(name) for name in files)


def test_delete_confirmation_of_many_threads_is_a_summary(superuser_client, alice):
    threads = [make_thread(alice, f"t{index}") for index in range(103)]
    response = superuser_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [t.pk for t in threads]},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Threads: 103" in html and "… and 3 more threads" in html
    assert Thread.objects.count() == 103


def test_delete_selected_action(superuser_client, alice, django_capture_on_commit_callbacks):
    keep, gone = make_thread(alice, "keep"), make_thread(alice, "gone")
    attachment = make_attachment(alice, gone, "x.png")
    add_items(gone, mixed_items(gone)[:3])
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            CHANGELIST, {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"}
        )
    assert response.status_code == 302
    assert list(Thread.objects.values_list("pk", flat=True)) == [keep.pk]
    assert not storages["default"].exists(attachment.file_name)


# export ----------------------------------------------------------------------------------


def test_export_action_exports_many_threads(superuser_client, mixed_thread, alice):
    other = make_thread(alice, "second")
    response = superuser_client.post(
        CHANGELIST, {"action": "export_json", "_selected_action": [mixed_thread.pk, other.pk]}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert re.match(
        r'attachment; filename="chatkit-threads-\d{8}-\d{6}\.json"',
        response["Content-Disposition"],
    )
    data = json.loads(response.content)
    assert data["format"] == "django_chatkit.threads" and data["version"] == 1
    exported = {t["id"]: t for t in data["threads"]}
    assert set(exported) == {mixed_thread.chatkit_id, other.chatkit_id}
    full = exported[mixed_thread.chatkit_id]
    assert full["owner"] == {"id": alice.pk, "username": "alice", "email": "alice@example.com"}
    assert ck.ThreadMetadata.model_validate(full["thread"]) == mixed_thread.to_chatkit()
    stored = [
        decode_thread_item(r.type, r.payload)
        for r in mixed_thread.items.order_by("created_at", "pk")
    ]
    assert [_decode(item) for item in full["items"]] == stored
    assert sorted(a["name"] for a in full["attachments"]) == ["invoice.pdf", f"photo {XSS}.png"]
    assert sorted(f["kind"] for f in full["feedback"]) == ["negative", "positive"]
    assert exported[other.chatkit_id]["items"] == []


def _decode(data: dict) -> ck.ThreadItem:
    if data["type"] == "widget":
        data = {**data, "widget": DynamicWidgetRoot.model_validate(data["widget"])}
        return ck.WidgetItem.model_validate(data)
    return decode_thread_item(data["type"], json.dumps(data))


def test_export_view_of_one_thread(viewer_client, mixed_thread):
    url = reverse("admin:django_chatkit_thread_export", args=[mixed_thread.pk])
    response = viewer_client.get(url)
    assert response.status_code == 200
    data = json.loads(response.content)
    assert [t["id"] for t in data["threads"]] == [mixed_thread.chatkit_id]
    assert len(data["threads"][0]["items"]) == 11


# permissions --------------------------------------------------------------------------------


def test_view_only_staff_can_read_but_not_change(viewer_client, mixed_thread):
    changelist = viewer_client.get(CHANGELIST)
    assert changelist.status_code == 200
    actions = re.findall(r'<option value="(\w+)"', changelist.content.decode())
    assert "export_json" in actions
    assert not {"lock_threads", "close_threads", "reopen_threads", "delete_selected"} & set(actions)

    html = viewer_client.get(transcript_url(mixed_thread)).content.decode()
    assert f"Where is my order? {XSS_ESCAPED}" in html
    assert 'class="ck-moderation"' not in html and "ck-delete-link" not in html

    status_url = reverse("admin:django_chatkit_thread_status", args=[mixed_thread.pk])
    assert viewer_client.post(status_url, {"status": "locked"}).status_code == 403
    response = viewer_client.post(
        CHANGELIST, {"action": "lock_threads", "_selected_action": [mixed_thread.pk]}
    )
    assert response.status_code == 302  # "No action selected": refused, nothing changed
    delete_url = reverse("admin:django_chatkit_thread_delete", args=[mixed_thread.pk])
    assert viewer_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert viewer_client.post(transcript_url(mixed_thread), {}).status_code == 405
    assert Thread.objects.get(pk=mixed_thread.pk).status == "active"


def test_moderator_without_delete_permission(client, mixed_thread):
    client.force_login(make_user("mod", staff=True, perms=("view_thread", "change_thread")))
    html = client.get(CHANGELIST).content.decode()
    assert 'value="lock_threads"' in html and 'value="delete_selected"' not in html
    html = client.get(transcript_url(mixed_thread)).content.decode()
    assert 'class="ck-moderation"' in html and "ck-delete-link" not in html


@pytest.mark.parametrize("who", ["anonymous", "user", "staff without permissions"])
def test_others_never_reach_the_admin(client, mixed_thread, who):
    if who == "user":
        client.force_login(make_user("mallory"))
    elif who == "staff without permissions":
        client.force_login(make_user("intern", staff=True))
    item = mixed_thread.items.first()
    attachment = Attachment.objects.first()
    urls = [
        CHANGELIST,
        transcript_url(mixed_thread),
        reverse("admin:django_chatkit_thread_export", args=[mixed_thread.pk]),
        reverse("admin:django_chatkit_thread_item_json", args=[mixed_thread.pk, item.pk]),
        reverse("admin:django_chatkit_attachment_file", args=[attachment.pk]),
        "/admin/django_chatkit/attachment/",
    ]
    for url in urls:
        response = client.get(url)
        if who == "staff without permissions":
            assert response.status_code == 403, url
        else:
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/"), url
    status_url = reverse("admin:django_chatkit_thread_status", args=[mixed_thread.pk])
    assert client.post(status_url, {"status": "locked"}).status_code in (302, 403)
    assert Thread.objects.get(pk=mixed_thread.pk).status == "active"


# subclassing ------------------------------------------------------------------------------

custom_site = django_admin.AdminSite(name="custom_admin")


class CompactThreadAdmin(ThreadAdmin):
    transcript_page_size = 3
    search_message_text = False
    list_display = ("display_title", "owner", "item_count")


custom_site.register(Thread, CompactThreadAdmin)
urlpatterns = [path("custom-admin/", custom_site.urls)]


@pytest.mark.urls(__name__)
def test_admin_classes_can_be_subclassed(client, alice, settings, tmp_path):
    client.force_login(make_user("root2", superuser=True))
    thread = make_thread(alice, "subclassed")
    add_items(thread, mixed_items(thread, "needle"))
    # A project template overrides one per-type template.
    override = tmp_path / "templates" / "admin" / "django_chatkit" / "items"
    override.mkdir(parents=True)
    (override / "end_of_turn.html").write_text("<p>CUSTOM END {{ entry.chatkit_id }}</p>")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path / "templates")]},
    ]
    url = reverse("custom_admin:django_chatkit_thread_change", args=[thread.pk])
    html = client.get(url, {"page": "last"}).content.decode()
    assert html.count('<article class="ck-item') == 2  # 11 items, 3 per page
    assert "CUSTOM END eot_" in html
    changelist = client.get("/custom-admin/django_chatkit/thread/", {"q": "needle"})
    assert thread_pks_in(changelist.content.decode()) == []  # message text not searched
