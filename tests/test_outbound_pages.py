"""Outbound webhook pages: who may see them, the list, new and edit (with
refused URLs), the page a receiver is wired up from, send test, a new secret,
trying a failed delivery again, delete, and pruning of the delivery log."""

import hashlib
import hmac
import html
import json
import re
import types
from datetime import timedelta

import pytest
from django.utils.html import strip_tags

from groups.models import Group
from integrations import retention
from integrations.models import OutboundWebhook, WebhookDelivery
from integrations.outbound import delivery, payloads
from tests.conftest import INTEGRATION_MANAGER_ROLES, T0, make_user
from tests.outbound_helpers import Receiver, deliveries, make_webhook, open_alert

PUBLIC_URL = "https://93.184.215.14/hooks/alertops"


def text(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def pre(response, element_id: str) -> str:
    match = re.search(rf'<pre class="snippet" id="{element_id}">(.*?)</pre>', text(response), re.S)
    assert match, f"no <pre id={element_id}> on the page"
    return match.group(1)


@pytest.fixture
def admin_client(client, alice):
    client.force_login(alice)  # an Owner
    return client


@pytest.fixture
def receiver(settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(200) as server:
        yield server


@pytest.mark.parametrize("role, allowed", INTEGRATION_MANAGER_ROLES)
def test_only_integration_managers_see_the_pages(client, db, role, allowed):
    webhook = make_webhook(PUBLIC_URL)
    client.force_login(make_user("someone", role))
    for url in [
        "/integrations/outbound/",
        "/integrations/outbound/new/",
        f"/integrations/outbound/{webhook.pk}/",
        f"/integrations/outbound/{webhook.pk}/edit/",
        f"/integrations/outbound/{webhook.pk}/delete/",
    ]:
        response = client.get(url)
        assert response.status_code == (200 if allowed else 403), url
        if not allowed:
            assert "Integrations Admin" in text(response)
            assert webhook.secret not in text(response)


def test_a_forbidden_role_changes_nothing(client, bob, db):
    webhook = make_webhook(PUBLIC_URL)
    client.force_login(bob)
    secret = webhook.secret
    for path in ("test", "secret", "delete"):
        assert client.post(f"/integrations/outbound/{webhook.pk}/{path}/").status_code == 403
    webhook.refresh_from_db()
    assert webhook.secret == secret
    assert not WebhookDelivery.objects.exists()
    assert client.post("/integrations/outbound/new/", {"name": "x"}).status_code == 403
    assert OutboundWebhook.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    webhook = make_webhook(PUBLIC_URL)
    for url in ("/integrations/outbound/", f"/integrations/outbound/{webhook.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    assert client.post(f"/integrations/outbound/{webhook.pk}/test/").status_code == 302
    assert not WebhookDelivery.objects.exists()


def test_an_unknown_webhook_is_404(admin_client):
    assert admin_client.get("/integrations/outbound/999/").status_code == 404


def test_the_integrations_page_links_to_outbound_webhooks(admin_client):
    assert 'href="/integrations/outbound/"' in text(admin_client.get("/integrations/"))


def test_the_empty_list_says_what_to_do(admin_client):
    page = words(admin_client.get("/integrations/outbound/"))
    assert "No outbound webhooks yet. Create one with the URL your ticketing system" in page


def test_the_list_shows_filters_and_the_last_delivery(admin_client, group):
    make_webhook(PUBLIC_URL, name="Jira", events=["created", "resolved"], groups=[group])
    make_webhook(PUBLIC_URL, name="Chat", enabled=False)
    open_alert(group)
    page = words(admin_client.get("/integrations/outbound/"))
    assert "Jira" in page
    assert "Alert created, Alert resolved" in page
    assert "All events" in page
    assert "All groups" in page
    assert "Pending" in page  # the alert's delivery to Jira
    assert "Disabled" in page


def test_create_a_webhook(admin_client, alice, group, now):
    response = admin_client.post(
        "/integrations/outbound/new/",
        {
            "name": "Jira",
            "url": PUBLIC_URL,
            "events": ["resolved", "created"],
            "groups": [group.pk],
            "enabled": "on",
        },
    )
    webhook = OutboundWebhook.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/integrations/outbound/{webhook.pk}/"
    assert webhook.events == ["created", "resolved"]
    assert list(webhook.groups.all()) == [group]
    assert (webhook.enabled, webhook.created_by, webhook.created_at) == (True, alice, T0)
    assert len(webhook.secret) >= 24


def test_a_private_url_is_refused_with_400_and_says_why(admin_client, settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        "/integrations/outbound/new/", {"name": "Internal", "url": "http://10.0.0.7/hook"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "This URL is refused: 10.0.0.7, a private address" in page
    assert "OUTBOUND_WEBHOOKS_ALLOW_PRIVATE=true" in page
    assert not OutboundWebhook.objects.exists()


def test_the_setting_allows_a_private_url(admin_client, settings):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = True
    response = admin_client.post(
        "/integrations/outbound/new/", {"name": "Internal", "url": "http://10.0.0.7/hook"}
    )
    assert response.status_code == 302
    assert OutboundWebhook.objects.get().url == "http://10.0.0.7/hook"


def test_a_form_with_mistakes_answers_400(admin_client):
    response = admin_client.post(
        "/integrations/outbound/new/",
        {"name": "", "url": "ftp://93.184.215.14/", "events": ["exploded"]},
    )
    page = text(response)
    assert response.status_code == 400
    assert "Give the webhook a name." in page
    assert "Only http:// and https:// URLs can receive webhooks." in page
    assert "Select a valid choice. exploded is not one of the available choices." in page
    assert not OutboundWebhook.objects.exists()


def test_edit_a_webhook(admin_client, db):
    webhook = make_webhook(PUBLIC_URL, events=["created"])
    url = f"/integrations/outbound/{webhook.pk}/edit/"
    assert 'value="created" id="id_events_0" checked' in text(admin_client.get(url))
    response = admin_client.post(url, {"name": "Renamed", "url": PUBLIC_URL + "/v2"})
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.name, webhook.url, webhook.events, webhook.enabled) == (
        "Renamed",
        PUBLIC_URL + "/v2",
        [],
        False,
    )
    refused = admin_client.post(url, {"name": "Again", "url": "http://127.0.0.1/"})
    assert refused.status_code == 400
    webhook.refresh_from_db()
    assert webhook.name == "Renamed"


def test_the_detail_page_has_all_a_receiver_needs(admin_client, group):
    webhook = make_webhook(PUBLIC_URL, events=["escalated", "created"], groups=[group])
    response = admin_client.get(f"/integrations/outbound/{webhook.pk}/")
    page = text(response)
    assert "<dt>Events</dt><dd>Alert created, Alert escalated</dd>" in page
    assert "<dt>Groups</dt><dd>Payments</dd>" in page
    assert PUBLIC_URL in page
    assert webhook.secret in page
    for header in (
        "X-AlertOps-Event",
        "X-AlertOps-Delivery",
        "X-AlertOps-Timestamp",
        "X-AlertOps-Signature",
    ):
        assert header in page
    example = json.loads(pre(response, "example"))
    assert example["event"] == "alert.acknowledged"
    assert set(example["alert"]) >= {"id", "url", "status", "group", "summary", "labels"}
    assert "1 min, 2 min, 5 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h (10 attempts in all)" in page
    assert "Nothing sent yet. Press Send test" in words(response)


def test_the_pages_example_signature_is_the_real_one(admin_client, db):
    webhook = make_webhook(PUBLIC_URL)
    response = admin_client.get(f"/integrations/outbound/{webhook.pk}/")
    body = pre(response, "example-body").encode()
    assert json.loads(body) == json.loads(pre(response, "example"))
    stamp = str(payloads.EXAMPLE_TIMESTAMP)
    expected = hmac.new(webhook.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    assert f'value="sha256={expected.hexdigest()}"' in text(response)
    assert f"timestamp <code>{stamp}</code>" in text(response)


def test_the_pages_verification_snippet_accepts_a_real_delivery(
    admin_client, receiver, monkeypatch, now
):
    webhook = make_webhook(receiver.url)
    snippet = pre(admin_client.get(f"/integrations/outbound/{webhook.pk}/"), "snippet")
    admin_client.post(f"/integrations/outbound/{webhook.pk}/test/")
    (request,) = receiver.requests

    monkeypatch.setenv("ALERTOPS_WEBHOOK_SECRET", webhook.secret)
    namespace: dict = {}
    exec(compile(snippet, "snippet", "exec"), namespace)
    stamp = int(request.headers["X-AlertOps-Timestamp"])
    namespace["time"] = types.SimpleNamespace(time=lambda: stamp + 60)  # a minute later
    verify = namespace["verify"]
    assert verify(request.headers, request.body)
    assert not verify(request.headers, request.body + b" ")  # a changed body
    forged = {**request.headers, "X-AlertOps-Timestamp": str(stamp + 1)}
    assert not verify(forged, request.body)  # a changed timestamp
    namespace["time"] = types.SimpleNamespace(time=lambda: stamp + 3600)
    assert not verify(request.headers, request.body)  # a replay an hour later


def test_send_test_delivers_and_shows_the_result(admin_client, receiver, now):
    webhook = make_webhook(receiver.url)
    response = admin_client.post(f"/integrations/outbound/{webhook.pk}/test/", follow=True)
    assert "Test delivered: the receiver answered 200 in" in words(response)
    (request,) = receiver.requests
    assert request.headers["X-AlertOps-Event"] == "webhook.test"
    assert request.json["message"] == "Test delivery to Tickets, sent by Alice."
    assert request.json["actor"]["name"] == "Alice"
    (row,) = deliveries()
    assert (row.event, row.status, row.response_code, row.attempts) == ("test", "delivered", 200, 1)
    page = words(response)
    assert "webhook.test Delivered 200 1" in page


def test_send_test_says_why_it_failed(admin_client, receiver, now):
    receiver.answers = [401]
    webhook = make_webhook(receiver.url)
    response = admin_client.post(f"/integrations/outbound/{webhook.pk}/test/", follow=True)
    assert (
        "Test not delivered: HTTP 401 Unauthorized: refused by the receiver (not retried)"
        in words(response)
    )
    assert deliveries()[0].status == "failed"


def test_send_test_to_a_private_target_is_refused(admin_client, settings, now):
    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    webhook = make_webhook("http://127.0.0.1:9/hook")
    response = admin_client.post(f"/integrations/outbound/{webhook.pk}/test/", follow=True)
    assert "Test not delivered: Refused target: 127.0.0.1, a loopback address" in words(response)


def test_the_delivery_log_shows_newest_first_and_pages(admin_client, group, now):
    webhook = make_webhook(PUBLIC_URL)
    for n in range(30):
        open_alert(group, f"k{n}", at=T0 + timedelta(minutes=n))
    first = text(admin_client.get(f"/integrations/outbound/{webhook.pk}/"))
    assert "30 in all, newest first" in first
    assert first.count('<span class="badge pending">') == delivery_page_size()
    assert first.index("09:29:00") < first.index("09:28:00")
    second = text(admin_client.get(f"/integrations/outbound/{webhook.pk}/?page=2"))
    assert second.count('<span class="badge pending">') == 30 - delivery_page_size()


def delivery_page_size() -> int:
    from integrations.outbound import views

    return views.DELIVERY_PAGE_SIZE


def test_try_a_failed_delivery_again(admin_client, receiver, group, now):
    receiver.answers = [404, 200]
    webhook = make_webhook(receiver.url)
    open_alert(group)
    delivery.sweep(now=T0)
    (row,) = deliveries()
    assert row.status == "failed"
    response = admin_client.post(
        f"/integrations/outbound/{webhook.pk}/deliveries/{row.pk}/retry/", follow=True
    )
    assert "queued again" in words(response)
    row.refresh_from_db()
    assert row.status == "delivered"  # the wake-up sent it (the test q cluster is inline)
    assert len(row.log) == 2
    assert len(receiver.requests) == 2
    again = admin_client.post(f"/integrations/outbound/{webhook.pk}/deliveries/{row.pk}/retry/")
    assert again.status_code == 302
    assert len(receiver.requests) == 2  # a delivered row is not sent again


def test_a_new_secret_signs_from_then_on(admin_client, db):
    webhook = make_webhook(PUBLIC_URL)
    old = webhook.secret
    response = admin_client.post(f"/integrations/outbound/{webhook.pk}/secret/", follow=True)
    webhook.refresh_from_db()
    assert webhook.secret != old
    assert len(webhook.secret) >= 32
    assert "New secret made" in words(response)
    assert webhook.secret in text(response)


def test_delete_asks_then_deletes(admin_client, group):
    webhook = make_webhook(PUBLIC_URL)
    open_alert(group)
    page = words(admin_client.get(f"/integrations/outbound/{webhook.pk}/delete/"))
    assert "1 delivery not yet sent is dropped" in page
    response = admin_client.post(f"/integrations/outbound/{webhook.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/integrations/outbound/"
    assert not OutboundWebhook.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_pruning_removes_only_finished_deliveries_past_the_retention(db, settings):
    settings.INBOUND_LOG_RETENTION_DAYS = 30
    webhook = make_webhook(PUBLIC_URL)
    for n, (days, status) in enumerate(
        [(31, "delivered"), (31, "failed"), (31, "pending"), (29, "delivered")]
    ):
        WebhookDelivery.objects.create(
            webhook=webhook,
            event="created",
            event_id=f"id-{n}",
            payload={},
            status=status,
            created_at=T0 - timedelta(days=days),
        )
    assert retention.prune(T0) == 2
    left = sorted((d.status, (T0 - d.created_at).days) for d in WebhookDelivery.objects.all())
    assert left == [("delivered", 29), ("pending", 31)]


def test_the_admin_lists_and_adds_webhooks_with_the_same_checks(client, group, settings, now):
    from django.contrib.auth import get_user_model

    settings.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = False
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    make_webhook(PUBLIC_URL, name="Jira")
    open_alert(group)
    assert "Jira" in text(client.get("/admin/integrations/outboundwebhook/"))
    assert "created" in text(client.get("/admin/integrations/webhookdelivery/"))

    add = "/admin/integrations/outboundwebhook/add/"
    form = {"name": "Chat", "url": "http://10.0.0.7/hook", "secret": "x" * 24, "enabled": "on"}
    refused = client.post(add, form)
    assert "This URL is refused: 10.0.0.7, a private address" in text(refused)
    assert not OutboundWebhook.objects.filter(name="Chat").exists()
    assert client.post(add, {**form, "url": PUBLIC_URL}).status_code == 302
    chat = OutboundWebhook.objects.get(name="Chat")
    assert (chat.created_by, chat.created_at, chat.events) == (root, T0, [])


def test_group_filter_choices_list_every_group(admin_client, group, policy):
    Group.objects.create(name="Search", escalation_policy=policy)
    page = text(admin_client.get("/integrations/outbound/new/"))
    assert ">Payments</option>" in page
    assert ">Search</option>" in page
