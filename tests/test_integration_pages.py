"""Integration pages: the list, new, one integration (URL, configuration, test
alert, routing rules, field mapping, settings, key), the inbound log, pruning."""

import html
import json
from datetime import timedelta

import pytest
from django.utils.html import strip_tags

from escalation.models import Alert
from groups.models import Group
from integrations import retention
from integrations.models import InboundEvent, Integration, IntegrationKind, RoutingRule
from tests.conftest import INTEGRATION_MANAGER_ROLES, T0, am_alert, am_payload, make_user, post_json


def text(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    """The page's text without tags, each run of white space one space."""
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


@pytest.fixture
def admin_client(client, alice):
    client.force_login(alice)  # an Owner
    return client


@pytest.mark.parametrize("role, allowed", INTEGRATION_MANAGER_ROLES)
def test_only_integration_managers_see_the_pages(client, alertmanager, role, allowed):
    client.force_login(make_user("someone", role))
    urls = [
        "/integrations/",
        "/integrations/new/",
        f"/integrations/{alertmanager.pk}/",
        "/integrations/log/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == (200 if allowed else 403), url
        if not allowed:
            assert "Integrations Admin" in text(response)
    home = text(client.get("/"))
    assert ('href="/integrations/"' in home) is allowed


def test_refused_post_changes_nothing(client, bob, alertmanager):
    client.force_login(bob)
    old_key = alertmanager.key
    response = client.post(f"/integrations/{alertmanager.pk}/rotate/", {"grace": "0"})
    assert response.status_code == 403
    alertmanager.refresh_from_db()
    assert alertmanager.key == old_key


def test_list_shows_kind_group_and_last_received(admin_client, alertmanager, webhook, now):
    post_json(admin_client, alertmanager, am_payload(am_alert("fp1")))
    page = text(admin_client.get("/integrations/"))
    assert "Prometheus Alertmanager" in page
    assert "Generic JSON webhook" in page
    assert "Payments" in page
    assert "Mon 2 Mar 09:00" in page  # Alertmanager's last request
    assert "never" in page  # the webhook's


def test_create_an_integration(admin_client, group):
    response = admin_client.post(
        "/integrations/new/",
        {
            "name": "Checkout Grafana",
            "kind": "grafana",
            "group": group.pk,
            "enabled": "on",
            "rate_limit_per_minute": "120",
            "signature_header": "X-Grafana-Alerting-Signature",
        },
    )
    integration = Integration.objects.get(name="Checkout Grafana")
    assert response.status_code == 302
    assert response["Location"] == f"/integrations/{integration.pk}/"
    assert integration.kind == IntegrationKind.GRAFANA
    assert integration.rate_limit_per_minute == 120
    assert len(integration.key) >= 24


def test_create_refuses_with_400_and_says_why(admin_client, group):
    response = admin_client.post(
        "/integrations/new/", {"name": "", "kind": "nagios", "rate_limit_per_minute": "-1"}
    )
    page = text(response)
    assert response.status_code == 400
    assert "Give the integration a name." in page
    assert "Select a valid choice. nagios is not one of the available choices." in page
    assert "Choose the group alerts go to." in page
    assert "The rate limit cannot be negative." in page
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("alertmanager", ["webhook_configs:", "send_resolved: true", "/in/{key}/"]),
        ("grafana", ["Integration: Webhook", "HTTP Method: POST", "/in/{key}/"]),
        ("pagerduty", ["pagerduty_configs:", "/v2/enqueue", "routing_key: '{key}'"]),
        ("opsgenie", ["opsgenie_configs:", "api_url: 'http://testserver/'", "GenieKey {key}"]),
        ("webhook", ['"summary":"Disk full on db-1"', "/in/{key}/"]),
    ],
)
def test_detail_page_shows_the_configuration_for_the_tool(admin_client, group, kind, expected):
    integration = Integration.objects.create(name=f"My {kind}", kind=kind, group=group)
    page = text(admin_client.get(f"/integrations/{integration.pk}/"))
    for snippet in expected:
        assert snippet.format(key=integration.key) in page
    assert "curl -sS -X POST" in page
    assert "Send test alert" in page


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "pagerduty", "opsgenie", "webhook"])
def test_send_test_alert_goes_through_the_integrations_own_path(admin_client, group, kind, now):
    integration = Integration.objects.create(name=f"My {kind}", kind=kind, group=group)
    if kind == "grafana":
        integration.signing_secret = "s3cret"
        integration.save()

    response = admin_client.post(f"/integrations/{integration.pk}/test/", follow=True)

    alert = Alert.objects.get()
    assert alert.integration == integration
    # Alertmanager and Grafana put the alert's name first: "TestAlert: ...".
    assert alert.summary.endswith(f"Test alert from My {kind}, sent by Alice")
    assert alert.group == group
    inbound = InboundEvent.objects.get()
    assert inbound.outcome == "created"
    assert inbound.alert == alert
    assert f"Test alert #{alert.pk} opened" in text(response)


def test_test_alert_through_a_mapped_webhook(admin_client, webhook, now):
    webhook.mapping = {"summary": "title"}
    webhook.save()
    admin_client.post(f"/integrations/{webhook.pk}/test/")
    assert Alert.objects.get().summary == "Test alert from Webhook, sent by Alice"
    assert InboundEvent.objects.get().endpoint == "test alert"


def test_test_alert_on_a_disabled_integration_is_refused(admin_client, alertmanager):
    alertmanager.enabled = False
    alertmanager.save()
    response = admin_client.post(f"/integrations/{alertmanager.pk}/test/", follow=True)
    assert "The test alert was refused (404)" in text(response)
    assert not Alert.objects.exists()


def test_routing_rules_add_reorder_delete(admin_client, alertmanager, policy):
    dba = Group.objects.create(name="DBA", escalation_policy=policy)
    url = f"/integrations/{alertmanager.pk}/rules/"
    admin_client.post(
        url,
        {
            "field": "labels.team",
            "operator": "equals",
            "value": "db",
            "group": dba.pk,
            "severity": "critical",
        },
    )
    admin_client.post(
        url,
        {"field": "summary", "operator": "matches", "value": "^Disk", "group": "", "severity": ""},
    )
    first, second = RoutingRule.objects.order_by("position")
    assert (first.field, first.group, first.severity, first.position) == (
        "labels.team",
        dba,
        "critical",
        0,
    )
    assert (second.field, second.group, second.position) == ("summary", None, 1)
    page = words(admin_client.get(f"/integrations/{alertmanager.pk}/"))
    assert "When labels.team equals db: send to DBA, priority Critical" in page

    admin_client.post(f"/integrations/{alertmanager.pk}/rules/{second.pk}/up/")
    assert list(RoutingRule.objects.order_by("position")) == [second, first]
    admin_client.post(f"/integrations/{alertmanager.pk}/rules/{second.pk}/delete/")
    assert list(RoutingRule.objects.all()) == [first]


def test_a_bad_rule_is_refused_with_400(admin_client, alertmanager):
    response = admin_client.post(
        f"/integrations/{alertmanager.pk}/rules/",
        {"field": "labels", "operator": "matches", "value": "([a-z", "group": "", "severity": ""},
    )
    page = text(response)
    assert response.status_code == 400
    assert "'labels' names nothing: name the label: labels.<name>." in page
    assert "Not a regular expression" in page
    assert not RoutingRule.objects.exists()


def test_routing_a_rule_matched_on_the_page_is_named_in_the_log(
    admin_client, alertmanager, policy, now
):
    dba = Group.objects.create(name="DBA", escalation_policy=policy)
    RoutingRule.objects.create(integration=alertmanager, field="labels.team", value="db", group=dba)
    post_json(admin_client, alertmanager, am_payload(am_alert("fp1", team="db")))
    assert Alert.objects.get().group == dba
    page = words(admin_client.get("/integrations/log/"))
    assert "matched Rule 1: labels.team equals 'db'" in page


def test_mapping_preview_reads_the_last_payload_without_saving(admin_client, webhook, now):
    webhook.mapping = {"summary": "title"}
    webhook.save()
    post_json(admin_client, webhook, {"title": "CPU hot", "host": "web-1", "state": "alerting"})
    response = admin_client.post(
        f"/integrations/{webhook.pk}/mapping/",
        {
            "summary": "join(' on ', [title, host])",
            "source": "host",
            "dedup_key": "host",
            "resolve_when": "state == 'ok'",
            "do": "preview",
        },
    )
    page = text(response)
    assert response.status_code == 200
    assert "CPU hot on web-1" in page
    webhook.refresh_from_db()
    assert webhook.mapping == {"summary": "title"}


def test_mapping_save_and_clear(admin_client, webhook):
    url = f"/integrations/{webhook.pk}/mapping/"
    admin_client.post(url, {"summary": "title", "dedup_key": "id", "do": "save"})
    webhook.refresh_from_db()
    assert webhook.mapping == {"summary": "title", "dedup_key": "id"}
    admin_client.post(url, {"do": "save"})
    webhook.refresh_from_db()
    assert webhook.mapping == {}


def test_a_broken_mapping_is_refused_with_400(admin_client, webhook):
    response = admin_client.post(
        f"/integrations/{webhook.pk}/mapping/", {"summary": "title[", "do": "save"}
    )
    assert response.status_code == 400
    assert "'title[' is not a JMESPath expression" in text(response)
    webhook.refresh_from_db()
    assert webhook.mapping == {}


def test_mapping_requires_a_summary(admin_client, webhook):
    response = admin_client.post(f"/integrations/{webhook.pk}/mapping/", {"dedup_key": "id"})
    assert response.status_code == 400
    assert "the summary's expression is required" in text(response)


def test_settings_disable_and_rate_limit(admin_client, alertmanager):
    response = admin_client.post(
        f"/integrations/{alertmanager.pk}/settings/",
        {
            "name": "AM",
            "group": alertmanager.group_id,
            "rate_limit_per_minute": "30",
            "signature_header": "",
        },
    )
    assert response.status_code == 302
    alertmanager.refresh_from_db()
    assert (alertmanager.name, alertmanager.enabled, alertmanager.rate_limit_per_minute) == (
        "AM",
        False,
        30,
    )
    assert alertmanager.kind == "alertmanager"  # the kind is fixed once made


def test_settings_refuse_with_400(admin_client, alertmanager):
    response = admin_client.post(
        f"/integrations/{alertmanager.pk}/settings/",
        {"name": "", "group": alertmanager.group_id, "rate_limit_per_minute": "abc"},
    )
    assert response.status_code == 400
    assert "The rate limit must be a whole number." in text(response)
    alertmanager.refresh_from_db()
    assert alertmanager.name == "Alertmanager"


def test_rotate_key_keeps_the_old_one_for_the_grace(admin_client, alertmanager, now):
    old = alertmanager.key
    response = admin_client.post(
        f"/integrations/{alertmanager.pk}/rotate/", {"grace": "3600"}, follow=True
    )
    alertmanager.refresh_from_db()
    assert alertmanager.key != old
    assert alertmanager.previous_key == old
    assert "keeps working until 2026-03-02 10:00 UTC" in text(response)
    assert post_json(admin_client, alertmanager, am_payload(am_alert("a"))).status_code == 202
    old_path = f"/in/{old}/"
    body = json.dumps(am_payload(am_alert("b")))
    assert admin_client.post(old_path, body, content_type="application/json").status_code == 202
    now.value = T0 + timedelta(hours=1)
    assert admin_client.post(old_path, body, content_type="application/json").status_code == 404


def test_rotate_refuses_an_unknown_grace(admin_client, alertmanager):
    old = alertmanager.key
    response = admin_client.post(f"/integrations/{alertmanager.pk}/rotate/", {"grace": "5"})
    assert response.status_code == 400
    assert "Select a valid choice" in text(response)
    alertmanager.refresh_from_db()
    assert alertmanager.key == old


def test_inbound_log_filters_by_integration_and_outcome(admin_client, alertmanager, webhook, now):
    post_json(admin_client, alertmanager, am_payload(am_alert("fp1")))
    post_json(admin_client, webhook, {"summary": ""})  # rejected
    admin_client.post("/in/nope/", "{}", content_type="application/json")  # unknown key

    everything = text(admin_client.get("/integrations/log/"))
    assert everything.count("<tr>") == 3 + 1  # the header row
    rejected = text(admin_client.get("/integrations/log/?outcome=rejected"))
    assert "field 'summary' is required" in rejected
    assert rejected.count("<tr>") == 2 + 1
    only_am = text(admin_client.get(f"/integrations/log/?integration={alertmanager.pk}"))
    assert only_am.count("<tr>") == 1 + 1
    unknown = text(admin_client.get("/integrations/log/?integration=none"))
    assert "no integration has this key" in unknown


def test_inbound_log_pages(admin_client, webhook, now):
    for n in range(55):
        post_json(admin_client, webhook, {"summary": f"n{n}", "dedup_key": f"k{n}"})
    first = text(admin_client.get("/integrations/log/"))
    assert "Page 1 of 2 (55 requests)" in first
    second = text(admin_client.get("/integrations/log/?page=2"))
    assert second.count("<tr>") == 5 + 1


def test_event_page_pretty_prints_and_cuts_large_bodies(admin_client, webhook, now):
    post_json(admin_client, webhook, {"summary": "Disk full", "details": {"free": "0 B"}})
    event = InboundEvent.objects.get()
    page = text(admin_client.get(f"/integrations/log/{event.pk}/"))
    assert '"details": {\n    "free": "0 B"\n  }' in page
    assert f"#{event.alert_id}" in page

    big = {"summary": "big", "details": {"blob": "x" * 100_000}}
    post_json(admin_client, webhook, big)
    event = InboundEvent.objects.order_by("-id").first()
    page = words(admin_client.get(f"/integrations/log/{event.pk}/"))
    assert "Shown up to 64.0 KB; the rest is stored." in page
    assert len(event.body) > 100_000


def test_pruning_removes_only_rows_past_the_retention(webhook, settings):
    settings.INBOUND_LOG_RETENTION_DAYS = 30
    for days in (31, 29, 0):
        InboundEvent.objects.create(
            integration=webhook, received_at=T0 - timedelta(days=days), outcome="created"
        )
    assert retention.prune(T0) == 1
    assert sorted((T0 - e.received_at).days for e in InboundEvent.objects.all()) == [0, 29]
    assert retention.prune(T0, days=0) == 0  # 0 keeps everything


def test_curl_line_for_a_mapped_webhook_sends_what_the_mapping_reads(admin_client, webhook, now):
    webhook.mapping = {"summary": "alert.title", "dedup_key": "id"}
    webhook.save()
    page = text(admin_client.get(f"/integrations/{webhook.pk}/"))
    assert """'{"alert":{"title":"Disk full on db-1"},"id":"db-1/disk"}'""" in page

    post_json(admin_client, webhook, {"alert": {"title": "CPU hot"}, "id": "cpu"})
    page = text(admin_client.get(f"/integrations/{webhook.pk}/"))
    assert """'{"alert":{"title":"CPU hot"},"id":"cpu"}'""" in page

    webhook.mapping = {"summary": "join(' ', [a, b])"}
    webhook.save()
    webhook.inbound_events.all().delete()
    assert "Try it with curl" not in text(admin_client.get(f"/integrations/{webhook.pk}/"))


def test_log_rows_show_the_payload_pretty_printed_and_cut(admin_client, webhook, now):
    post_json(admin_client, webhook, {"summary": "Disk full", "details": {"blob": "y" * 5000}})
    page = text(admin_client.get("/integrations/log/"))
    assert '{\n  "summary": "Disk full",\n  "details": {\n    "blob": "yyy' in page
    assert "y" * 1900 in page
    assert "y" * 2100 not in page
    assert "\n…</pre>" in page
