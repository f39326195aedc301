"""The generic webhook with a field mapping (JMESPath, parsers/mapped.py): any tool's JSON."""

import json

import pytest

from escalation.models import Alert
from integrations.models import InboundEvent
from integrations.parsers import mapped
from tests.conftest import last_inbound, post_json

# A monitoring tool that sends its own shape: a check with a state.
CHECK = {
    "check": {"id": "chk-42", "name": "HTTP /health", "state": "alerting", "level": "HIGH"},
    "host": {"name": "web-1", "dc": "fra"},
    "tags": {"team": "payments", "env": "prod"},
    "message": "GET /health answered 503",
}
MAPPING = {
    "summary": "join(': ', [check.name, message])",
    "dedup_key": "check.id",
    "severity": "check.level",
    "source": "host.name",
    "labels": "tags",
    "resolve_when": "check.state == 'ok'",
}


def check(**changes):
    """CHECK with changes to its `check` object."""
    return {**CHECK, "check": {**CHECK["check"], **changes}}


@pytest.fixture
def mapped_webhook(webhook):
    webhook.mapping = MAPPING
    webhook.save()
    return webhook


def error_of(response) -> str:
    assert response.status_code == 400, response.content
    return response.json()["error"]


def test_mapping_reads_every_field(client, mapped_webhook, now):
    response = post_json(client, mapped_webhook, CHECK)

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "created"
    alert = Alert.objects.get()
    assert alert.summary == "HTTP /health: GET /health answered 503"
    assert alert.dedup_key == "chk-42"
    assert alert.severity == "error"  # "HIGH" is a common word for error
    assert alert.source == "web-1"
    assert alert.labels == {"team": "payments", "env": "prod"}


def test_details_keep_the_whole_payload(client, mapped_webhook, now):
    post_json(client, mapped_webhook, CHECK)

    assert Alert.objects.get().details == CHECK


def test_a_top_level_list_is_kept_in_details(client, webhook, now):
    webhook.mapping = {"summary": "[0].title"}
    webhook.save()

    response = post_json(client, webhook, [{"title": "Queue stuck"}])

    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert alert.summary == "Queue stuck"
    assert alert.details == {"payload": [{"title": "Queue stuck"}]}


def test_the_same_dedup_key_is_a_duplicate(client, mapped_webhook, now):
    post_json(client, mapped_webhook, CHECK)

    response = post_json(client, mapped_webhook, CHECK)

    assert response.json()["outcome"] == "duplicate"
    assert Alert.objects.get().duplicate_count == 1


def test_without_dedup_key_mapping_every_post_is_a_new_alert(client, webhook, now):
    webhook.mapping = {"summary": "message"}
    webhook.save()

    post_json(client, webhook, CHECK)
    post_json(client, webhook, CHECK)

    assert Alert.objects.count() == 2
    assert len(set(Alert.objects.values_list("dedup_key", flat=True))) == 2


@pytest.mark.parametrize(
    "level, severity",
    [
        ("critical", "critical"),
        ("P1", "critical"),
        ("page", "critical"),
        ("HIGH", "error"),
        ("major", "error"),
        ("warn", "warning"),
        ("Medium", "warning"),
        ("low", "info"),
        ("info", "info"),
        ("whatever", "error"),
    ],
)
def test_severity_words(client, mapped_webhook, now, level, severity):
    post_json(client, mapped_webhook, check(level=level))

    assert Alert.objects.get().severity == severity


def test_severity_defaults_to_error_when_not_found(client, mapped_webhook, now):
    payload = check()
    del payload["check"]["level"]

    post_json(client, mapped_webhook, payload)

    assert Alert.objects.get().severity == "error"


def test_resolve_when_resolves_the_alert(client, mapped_webhook, now):
    post_json(client, mapped_webhook, CHECK)

    response = post_json(client, mapped_webhook, check(state="ok"))

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "resolved"
    assert Alert.objects.get().status == "resolved"


def test_recovery_needs_no_summary(client, mapped_webhook, now):
    post_json(client, mapped_webhook, CHECK)

    response = post_json(client, mapped_webhook, {"check": {"id": "chk-42", "state": "ok"}})

    assert response.status_code == 202, response.content
    assert Alert.objects.get().status == "resolved"


def test_recovery_is_not_refused_for_fields_only_a_trigger_uses(client, webhook, now):
    webhook.mapping = {
        "summary": "title",
        "dedup_key": "id",
        "source": "join('/', hosts)",
        "severity": "join('', [level])",
        "resolve_when": "state == 'ok'",
    }
    webhook.save()
    post_json(client, webhook, {"id": "1", "title": "Down", "hosts": ["a", "b"], "level": "P1"})
    trigger = post_json(client, webhook, {"id": "2", "title": "Down"})

    response = post_json(client, webhook, {"id": "1", "state": "ok"})

    assert response.status_code == 202, response.content
    assert "the mapping of 'severity' (join('', [level])) failed" in error_of(trigger)
    alert = Alert.objects.get()
    assert (alert.source, alert.severity, alert.status) == ("a/b", "critical", "resolved")


def test_resolve_when_false_keeps_triggering(client, mapped_webhook, now):
    post_json(client, mapped_webhook, CHECK)

    response = post_json(client, mapped_webhook, check(state="pending"))

    assert response.json()["outcome"] == "duplicate"
    assert Alert.objects.get().status == "open"


def test_resolve_when_for_unknown_key_is_ignored(client, mapped_webhook, now):
    response = post_json(client, mapped_webhook, check(state="ok"))

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == "ignored"
    assert Alert.objects.count() == 0


@pytest.fixture
def action_webhook(webhook):
    webhook.mapping = {"summary": "title", "dedup_key": "incident.id", "action": "event"}
    webhook.save()
    return webhook


@pytest.mark.parametrize(
    "word, outcome, status",
    [
        ("triggered", "duplicate", "open"),
        ("FIRING", "duplicate", "open"),
        ("problem", "duplicate", "open"),
        ("ack", "acknowledged", "acknowledged"),
        ("Acknowledged", "acknowledged", "acknowledged"),
        ("resolved", "resolved", "resolved"),
        ("recovery", "resolved", "resolved"),
        ("OK", "resolved", "resolved"),
        ("closed", "resolved", "resolved"),
        ("clear", "resolved", "resolved"),
    ],
)
def test_action_words(client, action_webhook, now, word, outcome, status):
    post_json(client, action_webhook, {"title": "DB down", "incident": {"id": 7}})

    response = post_json(
        client, action_webhook, {"title": "DB down", "incident": {"id": 7}, "event": word}
    )

    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == outcome
    alert = Alert.objects.get()
    assert alert.dedup_key == "7"  # a number found by the mapping becomes text
    assert alert.status == status


def test_missing_action_value_means_trigger(client, action_webhook, now):
    response = post_json(client, action_webhook, {"title": "DB down", "incident": {"id": 7}})

    assert response.json()["outcome"] == "created"


def test_unknown_action_word_is_400(client, action_webhook, now):
    response = post_json(
        client, action_webhook, {"title": "DB down", "incident": {"id": 7}, "event": "snooze"}
    )

    message = error_of(response)
    assert "the mapping of 'action' (event) found 'snooze'" in message
    assert "expected one of" in message
    assert "acknowledge" in message
    inbound = InboundEvent.objects.get()
    assert (inbound.outcome, inbound.status_code, inbound.message) == ("rejected", 400, message)
    assert Alert.objects.count() == 0


def test_acknowledge_without_a_dedup_key_is_400(client, action_webhook, now):
    response = post_json(client, action_webhook, {"title": "DB down", "event": "ack"})

    message = error_of(response)
    assert "to acknowledge an alert the mapping of 'dedup_key' must find a value" in message
    assert "incident.id" in message


@pytest.mark.parametrize("payload", [{"id": "1"}, {"id": "1", "alert": {"title": ""}}])
def test_missing_summary_is_400_naming_the_expression(client, webhook, now, payload):
    webhook.mapping = {"summary": "alert.title", "dedup_key": "id"}
    webhook.save()

    response = post_json(client, webhook, payload)

    message = error_of(response)
    assert message == "the mapping of 'summary' (alert.title) found nothing in the payload"
    assert Alert.objects.count() == 0
    inbound = InboundEvent.objects.get()
    assert (inbound.outcome, inbound.status_code, inbound.message) == ("rejected", 400, message)


@pytest.mark.parametrize("name", [42, None])
def test_failing_summary_expression_is_400_naming_it(client, mapped_webhook, now, name):
    """join() over a number or a missing field is a JMESPath type error: the tool's data."""
    payload = check(name=name)
    if name is None:
        del payload["check"]["name"]

    response = post_json(client, mapped_webhook, payload)

    message = error_of(response)
    assert "the mapping of 'summary' (join(': ', [check.name, message])) failed" in message
    assert Alert.objects.count() == 0
    assert last_inbound().message == message


def test_broken_mapping_is_400_not_500(client, webhook, now):
    webhook.mapping = {"summary": "title[", "dedup_key": "id"}
    webhook.save()

    response = post_json(client, webhook, {"title": "x", "id": "1"})

    assert "the mapping of 'summary' is broken" in error_of(response)


@pytest.mark.parametrize(
    "mapping, named",
    [
        ({"summary": 5}, "the mapping of 'summary' is broken: 5 is not text"),
        ({"summary": "title", "action": ["state"]}, "the mapping of 'action' is broken"),
        (["title"], "the integration's mapping is broken: it must be an object"),
    ],
)
def test_mapping_that_is_not_text_is_400_not_500(client, webhook, now, mapping, named):
    """The admin's JSON editor can store anything; a 500 would be retried forever."""
    webhook.mapping = mapping
    webhook.save()

    response = post_json(client, webhook, {"title": "x", "state": "ok"})

    assert named in error_of(response)
    assert last_inbound().status_code == 400


def test_long_dedup_key_is_400(client, mapped_webhook, now):
    response = post_json(client, mapped_webhook, check(id="k" * 256))

    assert "is 256 characters long" in error_of(response)


def test_object_found_for_summary_is_kept_as_json_text(client, webhook, now):
    webhook.mapping = {"summary": "host"}
    webhook.save()

    post_json(client, webhook, CHECK)

    assert json.loads(Alert.objects.get().summary) == CHECK["host"]


def test_labels_that_are_not_an_object_are_dropped(client, webhook, now):
    webhook.mapping = {"summary": "message", "labels": "keys(tags)"}
    webhook.save()

    response = post_json(client, webhook, CHECK)

    assert response.status_code == 202, response.content
    assert Alert.objects.get().labels == {}


def test_empty_mapping_reads_the_documented_format(client, webhook, now):
    webhook.mapping = {}
    webhook.save()

    response = post_json(client, webhook, {"summary": "Plain event", "severity": "info"})

    assert response.status_code == 202, response.content
    assert Alert.objects.get().severity == "info"


# check(): what the admin form shows before a mapping is saved


def test_check_accepts_a_good_mapping():
    assert mapped.check(MAPPING) == {}


def test_check_reports_a_bad_expression():
    errors = mapped.check({"summary": "title", "dedup_key": "incident.[id"})

    assert set(errors) == {"dedup_key"}
    assert errors["dedup_key"].startswith("'incident.[id' is not a JMESPath expression: ")


def test_check_reports_unknown_fields():
    errors = mapped.check({"summary": "title", "priority": "level", "details": "@"})

    assert set(errors) == {"priority", "details"}
    assert errors["priority"] == (
        "unknown field; the mapping can set "
        "summary, dedup_key, severity, action, resolve_when, source, labels"
    )


def test_check_reports_an_expression_that_is_not_text():
    errors = mapped.check({"summary": "title", "source": 7})

    assert errors == {"source": "7 is not a JMESPath expression: it must be text"}


def test_check_requires_the_summary():
    assert mapped.check({"dedup_key": "id"}) == {"summary": "the summary's expression is required"}


def test_check_reports_a_bad_summary_expression_rather_than_a_missing_one():
    errors = mapped.check({"summary": "join(', ' "})

    assert errors["summary"].startswith("\"join(', ' \" is not a JMESPath expression")
