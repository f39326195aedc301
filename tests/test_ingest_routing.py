"""Routing rules: the first matching rule decides an event's group and priority."""

import json

import pytest

from escalation.models import Alert
from groups.models import Group
from integrations import routing
from integrations.models import ChangeEvent, InboundEvent, RoutingRule
from tests.conftest import am_alert, am_payload, last_inbound, post_json


@pytest.fixture
def database(db, policy) -> Group:
    return Group.objects.create(name="Database", escalation_policy=policy)


@pytest.fixture
def frontend(db, policy) -> Group:
    return Group.objects.create(name="Frontend", escalation_policy=policy)


def rule(integration, position, field, value, group=None, operator="equals", severity=""):
    return RoutingRule.objects.create(
        integration=integration,
        position=position,
        field=field,
        operator=operator,
        value=value,
        group=group,
        severity=severity,
    )


def fire(client, integration, fingerprint="fp1", **labels):
    response = post_json(client, integration, am_payload(am_alert(fingerprint, **labels)))
    assert response.status_code == 202, response.content
    return response


def test_no_rule_matches_keeps_the_integrations_group(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "db", database)

    fire(client, alertmanager, team="web")

    alert = Alert.objects.get()
    assert alert.group == alertmanager.group
    assert alert.severity == "critical"
    result = last_inbound().results[0]
    assert result["rule"] == ""
    assert result["message"] == ""


def test_no_rules_at_all_keeps_the_integrations_group(client, alertmanager, now):
    fire(client, alertmanager)

    assert Alert.objects.get().group == alertmanager.group


def test_matching_rule_sets_the_group(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "db", database)

    fire(client, alertmanager, team="db")

    alert = Alert.objects.get()
    assert alert.group == database
    result = last_inbound().results[0]
    assert result["rule"] == "Rule 1: labels.team equals 'db'"
    assert result["message"] == "routed to Database"


def test_first_match_wins_by_position_not_by_creation(
    client, alertmanager, database, frontend, now
):
    # Created in the opposite order of their positions.
    rule(alertmanager, 1, "labels.team", "db", frontend)
    rule(alertmanager, 0, "labels.alertname", "HighLatency", database)

    fire(client, alertmanager, team="db")

    assert Alert.objects.get().group == database
    assert last_inbound().results[0]["rule"] == "Rule 1: labels.alertname equals 'HighLatency'"


def test_later_rule_applies_when_the_first_does_not_match(
    client, alertmanager, database, frontend, now
):
    rule(alertmanager, 0, "labels.team", "db", database)
    rule(alertmanager, 1, "labels.team", "web", frontend)

    fire(client, alertmanager, "fp1", team="web")
    fire(client, alertmanager, "fp2", team="db")

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"fp1": "Frontend", "fp2": "Database"}
    assert InboundEvent.objects.order_by("id").first().results[0]["rule"] == (
        "Rule 2: labels.team equals 'web'"
    )


def test_each_alert_of_one_request_is_routed_on_its_own(
    client, alertmanager, database, frontend, now
):
    rule(alertmanager, 0, "labels.team", "db", database)
    rule(alertmanager, 1, "labels.team", "web", frontend)
    payload = am_payload(am_alert("a", team="db"), am_alert("b", team="web"), am_alert("c"))

    response = post_json(client, alertmanager, payload)

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"a": "Database", "b": "Frontend", "c": "Payments"}
    assert [r["rule"] for r in response.json()["results"]] == [
        "Rule 1: labels.team equals 'db'",
        "Rule 2: labels.team equals 'web'",
        "",
    ]


def test_equals_is_exact(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "db", database)

    fire(client, alertmanager, "fp1", team="db-replica")
    fire(client, alertmanager, "fp2", team="DB")

    assert set(Alert.objects.values_list("group__name", flat=True)) == {"Payments"}


@pytest.mark.parametrize(
    "pattern, team, routed",
    [
        ("^db", "db-replica", True),
        ("db", "primary-db", True),  # a search, not a full match
        ("^db$", "db-replica", False),
        ("(?i)^DB", "db", True),
        ("web|api", "api", True),
        ("web|api", "db", False),
    ],
)
def test_matches_is_a_regular_expression_search(
    client, alertmanager, database, now, pattern, team, routed
):
    rule(alertmanager, 0, "labels.team", pattern, database, operator="matches")

    fire(client, alertmanager, team=team)

    assert (Alert.objects.get().group == database) is routed


def test_equals_does_not_read_its_value_as_a_pattern(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "d.", database)

    fire(client, alertmanager, team="db")

    assert Alert.objects.get().group == alertmanager.group


def test_an_invalid_pattern_never_matches(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "(", database, operator="matches")

    fire(client, alertmanager, team="(")

    assert Alert.objects.get().group == alertmanager.group


def test_summary_field(client, alertmanager, database, now):
    rule(alertmanager, 0, "summary", r"latency high \(fp2\)", database, operator="matches")

    fire(client, alertmanager, "fp1")
    fire(client, alertmanager, "fp2")

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"fp1": "Payments", "fp2": "Database"}


def test_source_and_dedup_key_fields(client, alertmanager, database, frontend, now):
    rule(alertmanager, 0, "source", "db-9:9100", database)
    rule(alertmanager, 1, "dedup_key", "fp-web", frontend)

    fire(client, alertmanager, "fp1", instance="db-9:9100")
    fire(client, alertmanager, "fp-web")

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"fp1": "Database", "fp-web": "Frontend"}


def test_nested_details_field(client, pagerduty, database, now):
    rule(pagerduty, 0, "details.custom_details.cluster.name", "eu-db", database)

    def trigger(key, cluster):
        return {
            "routing_key": pagerduty.key,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {
                "summary": "Replication lag",
                "source": "pg",
                "severity": "warning",
                "custom_details": {"cluster": {"name": cluster, "size": 3}},
            },
        }

    for key, cluster in [("a", "eu-db"), ("b", "us-db")]:
        response = client.post(
            "/v2/enqueue", data=json.dumps(trigger(key, cluster)), content_type="application/json"
        )
        assert response.status_code == 202, response.content

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"a": "Database", "b": "Payments"}
    assert InboundEvent.objects.order_by("id").first().results[0]["rule"] == (
        "Rule 1: details.custom_details.cluster.name equals 'eu-db'"
    )


def test_numbers_and_booleans_match_as_text(client, webhook, database, frontend, now):
    rule(webhook, 0, "details.replicas", "3", database)
    rule(webhook, 1, "details.canary", "true", frontend)

    post_json(client, webhook, {"summary": "a", "dedup_key": "a", "details": {"replicas": 3}})
    post_json(client, webhook, {"summary": "b", "dedup_key": "b", "details": {"canary": True}})

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"a": "Database", "b": "Frontend"}


def test_missing_field_does_not_match(client, webhook, database, now):
    rule(webhook, 0, "details.team.name", "db", database)

    post_json(client, webhook, {"summary": "a", "details": {"team": "db"}})

    assert Alert.objects.get().group == webhook.group


def create_opsgenie(client, opsgenie, body):
    response = client.post(
        "/v2/alerts",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"GenieKey {opsgenie.key}",
    )
    assert response.status_code == 202, response.content


def test_a_list_value_matches_when_any_item_does(client, opsgenie, database, frontend, now):
    rule(opsgenie, 0, "labels.tags", "db", database)
    rule(opsgenie, 1, "labels.tags", "^web-", frontend, operator="matches")

    create_opsgenie(client, opsgenie, {"message": "a", "alias": "a", "tags": ["prod", "db"]})
    create_opsgenie(client, opsgenie, {"message": "b", "alias": "b", "tags": ["web-eu"]})
    create_opsgenie(client, opsgenie, {"message": "c", "alias": "c", "tags": ["prod"]})
    create_opsgenie(client, opsgenie, {"message": "d", "alias": "d"})

    groups = dict(Alert.objects.values_list("dedup_key", "group__name"))
    assert groups == {"a": "Database", "b": "Frontend", "c": "Payments", "d": "Payments"}


def test_rule_sets_the_priority(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "db", database, severity="info")

    fire(client, alertmanager, "fp1", team="db")
    fire(client, alertmanager, "fp2", team="web")

    severities = dict(Alert.objects.values_list("dedup_key", "severity"))
    assert severities == {"fp1": "info", "fp2": "critical"}


def test_rule_without_group_keeps_the_integrations_group_but_sets_priority(
    client, alertmanager, now
):
    rule(alertmanager, 0, "labels.env", "staging", severity="warning")

    fire(client, alertmanager, env="staging")

    alert = Alert.objects.get()
    assert alert.group == alertmanager.group
    assert alert.severity == "warning"
    result = last_inbound().results[0]
    assert result["rule"] == "Rule 1: labels.env equals 'staging'"
    assert result["message"] == "routed to Payments"


def test_rule_matches_on_severity_before_changing_it(client, opsgenie, database, now):
    rule(opsgenie, 0, "severity", "critical", database, severity="error")

    create_opsgenie(client, opsgenie, {"message": "a", "alias": "a", "priority": "P1"})

    alert = Alert.objects.get()
    assert (alert.group, alert.severity) == (database, "error")


def test_rules_of_another_integration_do_not_apply(client, alertmanager, webhook, database, now):
    rule(webhook, 0, "labels.team", "db", database)

    fire(client, alertmanager, team="db")

    assert Alert.objects.get().group == alertmanager.group


def test_a_duplicate_stays_where_the_alert_was_routed(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "db", database)
    fire(client, alertmanager, team="db")
    RoutingRule.objects.all().delete()

    response = fire(client, alertmanager, team="db")

    assert response.json()["outcome"] == "duplicate"
    assert Alert.objects.get().group == database


def test_resolve_finds_a_routed_alert(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.team", "db", database)
    fire(client, alertmanager, team="db")

    response = post_json(client, alertmanager, am_payload(am_alert("fp1", "resolved", team="db")))

    assert response.json()["outcome"] == "resolved"
    assert Alert.objects.get().status == "resolved"


def test_change_events_are_routed_too(client, pagerduty, database, now):
    rule(pagerduty, 0, "source", "db-deployer", database)
    body = {
        "routing_key": pagerduty.key,
        "payload": {"summary": "Upgraded PostgreSQL", "source": "db-deployer"},
    }

    response = client.post(
        "/v2/change/enqueue", data=json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.get().group == database
    assert last_inbound().results[0]["rule"] == "Rule 1: source equals 'db-deployer'"


# The checks the rule form shows


@pytest.mark.parametrize(
    "field",
    [
        "summary",
        "source",
        "severity",
        "dedup_key",
        "labels.team",
        "details.custom_details.cluster",
    ],
)
def test_check_field_accepts_what_events_have(field):
    assert routing.check_field(field) is None


@pytest.mark.parametrize(
    "field, message",
    [
        (
            "team",
            "a field starts with one of summary, source, severity, dedup_key, labels, details",
        ),
        ("Summary", "a field starts with one of summary, source"),
        ("labels", "name the label: labels.<name>"),
        ("details", "name the detail: details.<name>"),
        ("labels.", "a field has no empty parts"),
        ("details.a..b", "a field has no empty parts"),
    ],
)
def test_check_field_says_what_is_wrong(field, message):
    assert routing.check_field(field).startswith(message)


def test_check_pattern():
    assert routing.check_pattern("^db-[0-9]+$") is None
    assert routing.check_pattern("(") == (
        "not a regular expression: missing ), unterminated subpattern at position 0"
    )
    assert routing.check_pattern("[a-").startswith("not a regular expression: ")


def test_a_label_whose_name_has_dots_is_found_whole(client, alertmanager, database, now):
    rule(alertmanager, 0, "labels.app.kubernetes.io/name", "postgres", database)

    fire(client, alertmanager, **{"app.kubernetes.io/name": "postgres"})

    assert Alert.objects.get().group == database


def test_dotted_paths_still_descend_into_objects():
    fields = {"details": {"a": {"b": "deep"}, "a.b": "flat"}}
    assert routing.values_at(fields, "details.a.b") == ["flat"]  # the whole name first
    assert routing.values_at({"details": {"a": {"b": "deep"}}}, "details.a.b") == ["deep"]
    assert routing.values_at(fields, "details.a.c") == []


def test_a_changed_rule_applies_to_the_next_event(client, alertmanager, database, frontend, now):
    """Rules are kept per process by the integration's rules_version: every
    change (save, delete, reorder) raises it."""
    first = rule(alertmanager, 0, "labels.team", "db", database)
    fire(client, alertmanager, "fp1", team="db")
    assert Alert.objects.get(dedup_key="fp1").group == database

    first.group = frontend
    first.save()
    fire(client, alertmanager, "fp2", team="db")
    assert Alert.objects.get(dedup_key="fp2").group == frontend

    first.delete()
    fire(client, alertmanager, "fp3", team="db")
    assert Alert.objects.get(dedup_key="fp3").group == alertmanager.group


def test_a_reorder_on_the_page_applies_to_the_next_event(
    client, alice, alertmanager, database, frontend, now
):
    rule(alertmanager, 0, "labels.team", "db", database)
    second = rule(alertmanager, 1, "labels.team", "db", frontend)
    fire(client, alertmanager, "fp1", team="db")
    client.force_login(alice)

    client.post(f"/integrations/{alertmanager.pk}/rules/{second.pk}/up/")
    fire(client, alertmanager, "fp2", team="db")

    assert Alert.objects.get(dedup_key="fp1").group == database
    assert Alert.objects.get(dedup_key="fp2").group == frontend


def test_a_routed_groups_new_policy_applies_at_once(client, alertmanager, database, now):
    from escalation.models import EscalationPolicy

    rule(alertmanager, 0, "labels.team", "db", database)
    fire(client, alertmanager, "fp1", team="db")
    database.escalation_policy = EscalationPolicy.objects.create(name="DBA nights")
    database.save()

    fire(client, alertmanager, "fp2", team="db")

    assert Alert.objects.get(dedup_key="fp2").policy_snapshot["name"] == "DBA nights"
