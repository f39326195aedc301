"""Email rules: keywords open, close and update; the dedup key from markers, a
regex or the subject; filters ignore mail; broken rules never cost an alert."""

from datetime import timedelta

import pytest

from escalation.models import Alert, AlertStatus, EventKind
from integrations.email import decide, rules
from integrations.models import InboundEvent
from tests.conftest import T0
from tests.email_helpers import address, deliver, make_integration, message

NAGIOS = {
    "mode": "keywords",
    "open_keywords": ["PROBLEM"],
    "close_keywords": ["RECOVERY"],
    "update_keywords": ["UPDATE", "ACKNOWLEDGEMENT"],
}


@pytest.fixture
def mailbox(group):
    return make_integration(group)


def send(integration, subject, body="Service check output", **kwargs):
    return deliver(message(address(integration), subject=subject, body=body, **kwargs))


def last() -> InboundEvent:
    return InboundEvent.objects.order_by("-id").first()


def mail(subject="", body="", sender="Nagios <nagios@example.com>", message_id=""):
    return decide.Mail(
        sender=sender,
        subject=subject,
        body=body,
        sender_address="nagios@example.com",
        message_id=message_id,
    )


def test_by_default_every_email_opens_an_alert_and_a_repeat_is_a_duplicate(mailbox):
    send(mailbox, "Disk full on db-1")
    send(mailbox, "Disk full on db-1")
    send(mailbox, "Disk full on db-2")

    first, second = Alert.objects.order_by("id")
    assert first.summary == "Disk full on db-1"
    assert first.duplicate_count == 1
    assert second.summary == "Disk full on db-2"
    assert [row.outcome for row in InboundEvent.objects.order_by("id")] == [
        "created",
        "duplicate",
        "created",
    ]


def test_keywords_open_update_and_close_one_alert(mailbox, now):
    mailbox.email_rules = NAGIOS
    mailbox.save()

    send(mailbox, "** PROBLEM Service Alert: web-1/HTTP is CRITICAL **")
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.OPEN
    assert alert.summary == "** PROBLEM Service Alert: web-1/HTTP is CRITICAL **"

    send(mailbox, "** UPDATE Service Alert: web-1/HTTP is CRITICAL **", body="Still down.")
    assert last().outcome == "noted"
    note = alert.events.get(kind=EventKind.NOTE).message
    assert note.startswith("Update by email: ** UPDATE Service Alert")
    assert "Still down." in note

    send(mailbox, "** RECOVERY Service Alert: web-1/HTTP is CRITICAL **")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert last().outcome == "resolved"
    assert "Keyword 'RECOVERY': close" in last().message
    assert Alert.objects.count() == 1


def test_keywords_ignore_case_and_match_whole_words_only(mailbox):
    mailbox.email_rules = {**NAGIOS, "close_keywords": ["OK"]}
    mailbox.save()

    send(mailbox, "problem: LOOKUP service slow")  # OK inside LOOKUP is no keyword
    assert Alert.objects.get().status == AlertStatus.OPEN
    send(mailbox, "Ok: lookup service slow")
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_the_first_keyword_in_the_subject_wins():
    found = rules.parse(NAGIOS)

    assert decide.keyword_in(found, "RECOVERY: PROBLEM cleared") == ("close", "RECOVERY")
    assert decide.keyword_in(found, "PROBLEM: RECOVERY job failed") == ("open", "PROBLEM")


def test_in_keyword_mode_mail_without_a_keyword_is_ignored_and_says_why(mailbox):
    mailbox.email_rules = NAGIOS
    mailbox.save()

    received = send(mailbox, "Weekly report")

    assert received.status == "accepted"
    assert not Alert.objects.exists()
    row = last()
    assert row.outcome == "ignored"
    assert "the subject has no keyword (open: PROBLEM; close: RECOVERY;" in row.message


def test_a_close_with_no_open_alert_is_logged_as_ignored(mailbox):
    mailbox.email_rules = NAGIOS
    mailbox.save()

    send(mailbox, "RECOVERY: db-1 is back")

    assert not Alert.objects.exists()
    row = last()
    assert row.outcome == "ignored"
    assert "no open alert has dedup key" in row.results[0]["message"]


def test_dedup_key_between_markers_in_the_body(mailbox):
    mailbox.email_rules = {**NAGIOS, "dedup_in": "body", "dedup_start": "Incident:"}
    mailbox.save()

    send(mailbox, "PROBLEM: disk", body="Disk full.\nIncident: INC-42\nMore text")
    send(mailbox, "PROBLEM: other words", body="incident: INC-43 \n")
    send(mailbox, "RECOVERY: whatever the subject", body="Resolved.\nIncident: INC-42")

    inc42, inc43 = Alert.objects.order_by("id")
    assert (inc42.dedup_key, inc42.status) == ("INC-42", AlertStatus.RESOLVED)
    assert (inc43.dedup_key, inc43.status) == ("INC-43", AlertStatus.OPEN)


def test_dedup_key_between_start_and_end_markers_in_the_subject():
    found = rules.parse({"dedup_start": "[", "dedup_end": "]"})

    key, how = decide.dedup_key(found, mail(subject="Disk full [db-1/disk] since 09:00"))

    assert key == "db-1/disk"
    assert how == "dedup key 'db-1/disk' from the subject"


def test_an_end_marker_that_never_comes_finds_no_key():
    found = rules.parse({"dedup_start": "[", "dedup_end": "]"})

    key, how = decide.dedup_key(found, mail(subject="Disk full [db-1/disk"))

    assert key == "nagios@example.com: disk full [db-1/disk"
    assert how.startswith("the dedup markers found nothing in the subject, so keyed by the sender")


def test_dedup_key_by_regex_first_group_else_whole_match(mailbox):
    mailbox.email_rules = {"dedup_in": "either", "dedup_regex": r"ticket #(\d+)"}
    mailbox.save()

    send(mailbox, "Ticket #77 opened", body="x")
    send(mailbox, "Something else", body="About TICKET #77 again")

    alert = Alert.objects.get()
    assert alert.dedup_key == "77"
    assert alert.duplicate_count == 1
    whole = rules.parse({"dedup_regex": r"db-\d+"})
    assert decide.dedup_key(whole, mail(subject="x on db-12"))[0] == "db-12"


def test_the_fallback_key_leaves_out_dates_times_ids_reply_prefixes_and_keywords():
    found = rules.parse(NAGIOS)
    run_1, run_2 = "5f1e2b3c-7a8d-4e9f-b0a1-c2d3e4f5a6b7", "0a1b2c3d-0000-4000-8000-000000000000"
    first = mail(subject=f"PROBLEM: backup failed on db-1 at 2026-03-02 09:00:01 (run {run_1})")
    again = mail(subject=f"Re: RECOVERY: Backup failed on db-1 at 2026-03-03T10:15 (run {run_2})")
    other = mail(subject="PROBLEM: backup failed on db-2 at 2026-03-02 09:00:01")

    assert decide.dedup_key(found, first)[0] == decide.dedup_key(found, again)[0]
    assert decide.dedup_key(found, first)[0] != decide.dedup_key(found, other)[0]
    assert decide.dedup_key(found, other)[0] == "nagios@example.com: backup failed on db-2 at"


def test_the_message_id_fallback_makes_each_email_its_own_alert(mailbox):
    mailbox.email_rules = {"dedup_fallback": "message"}
    mailbox.save()

    send(mailbox, "Disk full", message_id="<a@example.com>")
    send(mailbox, "Disk full", message_id="<b@example.com>")
    send(mailbox, "Disk full", message_id="<a@example.com>")  # delivered again: the same one

    assert sorted(Alert.objects.values_list("dedup_key", "duplicate_count")) == [
        ("message:<a@example.com>", 1),
        ("message:<b@example.com>", 0),
    ]


def test_a_long_key_is_cut_to_fit_and_stays_stable():
    found = rules.parse({"dedup_regex": r"id=(\S+)"})
    long_id = "x" * 400

    key = decide.dedup_key(found, mail(subject=f"id={long_id}"))[0]

    assert len(key) <= 255
    assert key == decide.dedup_key(found, mail(subject=f"id={long_id}"))[0]
    assert key != decide.dedup_key(found, mail(subject=f"id={long_id}y"))[0]


def test_ignore_filters_on_sender_subject_and_body(mailbox):
    mailbox.email_rules = {
        "filters": [
            {"action": "ignore", "field": "subject", "operator": "contains", "value": "[test]"},
            {"action": "ignore", "field": "sender", "operator": "matches", "value": r"^Cron\b"},
            {"action": "ignore", "field": "body", "operator": "contains", "value": "DRY RUN"},
        ]
    }
    mailbox.save()

    send(mailbox, "[TEST] disk full")
    assert last().message == "Ignored by filter 1: subject contains '[test]'."
    send(mailbox, "disk full", sender="Cron Daemon <root@db-1.example.com>")
    assert last().message.startswith("Ignored by filter 2: sender matches")
    send(mailbox, "disk full", body="this is a dry run")
    assert last().message.startswith("Ignored by filter 3")
    assert not Alert.objects.exists()
    assert set(InboundEvent.objects.values_list("outcome", flat=True)) == {"ignored"}

    send(mailbox, "disk full", body="real")
    assert Alert.objects.count() == 1
    mailbox.refresh_from_db()
    assert mailbox.last_received_at == T0


def test_only_mail_matching_every_require_filter_is_accepted(mailbox, now):
    mailbox.email_rules = {
        "filters": [
            {
                "action": "require",
                "field": "sender",
                "operator": "contains",
                "value": "@example.com",
            },
            {"action": "require", "field": "subject", "operator": "matches", "value": "^prod"},
        ]
    }
    mailbox.save()

    send(mailbox, "staging: disk full")
    assert last().message == ("Ignored: filter 2 accepts only mail whose subject matches '^prod'.")
    send(mailbox, "PROD: disk full", sender="someone@elsewhere.example.org")
    assert "filter 1 accepts only mail whose sender contains '@example.com'" in last().message
    send(mailbox, "PROD: disk full")

    assert Alert.objects.get().summary == "PROD: disk full"


def test_an_ignore_filter_wins_over_a_require_filter():
    found = rules.parse(
        {
            "filters": [
                {"action": "require", "field": "subject", "operator": "contains", "value": "db"},
                {"action": "ignore", "field": "subject", "operator": "contains", "value": "test"},
            ]
        }
    )

    assert decide.decide(found, mail(subject="db test")).action is None
    assert decide.decide(found, mail(subject="db down")).action == "trigger"


@pytest.mark.parametrize(
    "raw, field, problem",
    [
        ([], "rules", "the email rules must be a JSON object"),
        ({"colour": "red"}, "rules", "unknown setting 'colour'"),
        ({"mode": "sometimes"}, "mode", "must be one of open, keywords"),
        ({"mode": "keywords", "open_keywords": []}, "open_keywords", "needs an open keyword"),
        ({"open_keywords": ["  "]}, "open_keywords", "a keyword cannot be empty"),
        ({"open_keywords": ["OK"], "close_keywords": ["ok"]}, "close_keywords", "already a open"),
        ({"dedup_end": "]"}, "dedup_start", "an end marker needs a start marker"),
        ({"dedup_regex": "(unclosed"}, "dedup_regex", "not a regular expression"),
        ({"dedup_regex": "x", "dedup_start": "y"}, "dedup_regex", "not both"),
        (
            {"mode": "keywords", "dedup_fallback": "message"},
            "dedup_fallback",
            "a close or update email must carry its alert's key",
        ),
        ({"filters": [{"action": "drop"}]}, "filters.0.action", "must be one of ignore, require"),
        (
            {
                "filters": [
                    {"action": "ignore", "field": "subject", "operator": "matches", "value": "["}
                ]
            },
            "filters.0.value",
            "not a regular expression",
        ),
    ],
)
def test_the_checks_name_the_field_and_the_problem(raw, field, problem):
    errors = rules.check(raw)

    assert field in errors, errors
    assert problem in errors[field]


def test_the_defaults_are_valid_and_round_trip():
    assert rules.check({}) == {}
    assert rules.check(rules.DEFAULTS) == {}
    assert rules.parse(rules.parse(NAGIOS).to_json()) == rules.parse(NAGIOS)


def test_broken_stored_rules_fall_back_to_the_defaults_and_say_so(mailbox):
    mailbox.email_rules = {"mode": "keywords", "open_keywords": "PROBLEM"}  # not a list
    mailbox.save()

    send(mailbox, "Weekly report")

    assert Alert.objects.get().summary == "Weekly report"
    assert "The email rules are broken (open_keywords: must be a list of words)" in last().message


def test_a_later_mail_after_resolution_opens_a_new_alert(mailbox, now):
    mailbox.email_rules = NAGIOS
    mailbox.save()
    send(mailbox, "PROBLEM: db-1 down")
    send(mailbox, "RECOVERY: db-1 down")

    deliver(message(address(mailbox), subject="PROBLEM: db-1 down"), now=T0 + timedelta(hours=1))

    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == [
        AlertStatus.RESOLVED,
        AlertStatus.OPEN,
    ]
