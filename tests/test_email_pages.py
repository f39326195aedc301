"""The email integration's pages: create one, see its address and how to wire a
tool up, edit its rules with a preview, send a test email; who may do that."""

import html

import pytest
from django.core import checks
from django.test import override_settings
from django.utils.html import strip_tags

from accounts.models import PlatformRole
from escalation.models import Alert
from integrations.email import checks as email_checks
from integrations.models import InboundEvent, Integration, IntegrationKind
from tests.conftest import make_user
from tests.email_helpers import KEY, deliver, make_integration, thunderbird


def text(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


@pytest.fixture
def mailbox(group):
    return make_integration(group)


@pytest.fixture
def admin_client(client, alice):
    client.force_login(alice)  # an Owner
    return client


def rules_post(**fields) -> dict:
    data = {
        "mode": "open",
        "open_keywords": "PROBLEM",
        "close_keywords": "RECOVERY",
        "update_keywords": "UPDATE",
        "dedup_in": "subject",
        "dedup_fallback": "subject",
        "filter_rows": "3",
        "do": "save",
    }
    data.update(fields)
    return data


def test_an_inbound_email_integration_is_created_from_the_new_page(admin_client, group):
    page = text(admin_client.get("/integrations/new/"))
    assert '<option value="email">Inbound email</option>' in page

    response = admin_client.post(
        "/integrations/new/",
        {
            "name": "Legacy NMS",
            "kind": "email",
            "group": group.pk,
            "enabled": "on",
            "rate_limit_per_minute": "600",
        },
        follow=True,
    )

    integration = Integration.objects.get(name="Legacy NMS")
    assert integration.kind == IntegrationKind.EMAIL
    assert "Legacy NMS is ready: give its address to the tool." in text(response)


def test_the_page_shows_the_address_the_example_and_how_to_wire_it_up(admin_client, mailbox):
    page = text(admin_client.get(f"/integrations/{mailbox.pk}/"))

    assert f'value="{KEY}@inbound.alertops.localhost"' in page
    # The example email, and what the current rules make of it.
    assert f"To: {KEY}@inbound.alertops.localhost" in page
    assert "Subject: Disk full on db-1" in page
    assert "Under the current rules this email opens an alert" in page
    # An ESP through anymail, with the secret in the URL.
    assert "http://USER:PASSWORD@testserver/anymail/postmark/inbound/" in page
    assert "ANYMAIL_WEBHOOK_SECRET is not set on this server" in page
    # Postfix piping into the command.
    assert "receive_email --recipient" in page
    assert "argv=/usr/local/bin/alertops-receive-email ${recipient}" in page
    # The raw endpoint, and a line to try it.
    assert "POST http://testserver/inbound/email/" in page
    assert "Content-Type: message/rfc822" in page
    assert "Send test email" in page
    assert 'id="email-rules"' in page
    assert "/in/" + KEY not in page  # no webhook URL for mail


@override_settings(ANYMAIL={"WEBHOOK_SECRET": "u:p"})
def test_the_page_says_when_the_secret_is_set(admin_client, mailbox):
    page = text(admin_client.get(f"/integrations/{mailbox.pk}/"))

    assert "ANYMAIL_WEBHOOK_SECRET is set on this server" in page
    assert "u:p" not in page


def test_saving_keyword_rules_with_markers_and_a_filter(admin_client, mailbox):
    response = admin_client.post(
        f"/integrations/{mailbox.pk}/email-rules/",
        rules_post(
            mode="keywords",
            open_keywords="PROBLEM, DOWN",
            close_keywords="RECOVERY, UP",
            dedup_in="body",
            dedup_start="Host:",
            filter_0_action="ignore",
            filter_0_field="subject",
            filter_0_operator="contains",
            filter_0_value="[test]",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/integrations/{mailbox.pk}/#email-rules"
    mailbox.refresh_from_db()
    assert mailbox.email_rules == {
        "mode": "keywords",
        "open_keywords": ["PROBLEM", "DOWN"],
        "close_keywords": ["RECOVERY", "UP"],
        "dedup_in": "body",
        "dedup_start": "Host:",
        "filters": [
            {"action": "ignore", "field": "subject", "operator": "contains", "value": "[test]"}
        ],
    }
    page = text(admin_client.get(f"/integrations/{mailbox.pk}/"))
    assert 'value="PROBLEM, DOWN"' in page
    assert 'value="[test]"' in page


def test_saving_the_defaults_stores_nothing(admin_client, mailbox):
    mailbox.email_rules = {"mode": "keywords"}
    mailbox.save()

    admin_client.post(f"/integrations/{mailbox.pk}/email-rules/", rules_post())

    mailbox.refresh_from_db()
    assert mailbox.email_rules == {}


def test_refused_rules_answer_400_say_why_and_change_nothing(admin_client, mailbox):
    response = admin_client.post(
        f"/integrations/{mailbox.pk}/email-rules/",
        rules_post(
            mode="keywords",
            open_keywords="",
            dedup_regex="(unclosed",
            filter_1_field="body",
            filter_1_operator="matches",
            filter_1_value="[",
        ),
    )

    assert response.status_code == 400
    page = words(response)
    assert "The rules were not saved" in page
    assert "Keyword mode needs an open keyword" in page
    assert "Not a regular expression: missing ), unterminated subpattern" in page
    assert "Not a regular expression: unterminated character set" in page
    mailbox.refresh_from_db()
    assert mailbox.email_rules == {}


def test_preview_shows_what_the_rules_would_do_without_saving(admin_client, mailbox):
    response = admin_client.post(
        f"/integrations/{mailbox.pk}/email-rules/",
        rules_post(
            do="preview",
            mode="keywords",
            dedup_regex=r"host (\S+)",
            sample_from="nagios@example.com",
            sample_subject="RECOVERY: host db-7 is up",
            sample_body="",
        ),
    )

    assert response.status_code == 200
    page = words(response)
    assert "Outcome Resolves the open alert with this dedup key" in page
    assert "Dedup key db-7" in page
    assert "Keyword 'RECOVERY': close; dedup key 'db-7' from the subject." in page
    mailbox.refresh_from_db()
    assert mailbox.email_rules == {}


def test_preview_of_an_ignored_sample_says_why(admin_client, mailbox):
    response = admin_client.post(
        f"/integrations/{mailbox.pk}/email-rules/",
        rules_post(do="preview", mode="keywords", sample_subject="Weekly report"),
    )

    assert "Outcome Ignored" in words(response)
    assert "the subject has no keyword" in words(response)


def test_the_preview_starts_with_the_last_email_received(admin_client, mailbox):
    deliver(thunderbird())

    page = text(admin_client.get(f"/integrations/{mailbox.pk}/"))

    assert 'value="PROBLEM: Festplatte voll auf db-1 \N{EN DASH} noch 0 B frei"' in page
    assert "juergen@monitoring.example.com" in page


def test_send_test_email_goes_through_the_receive_path(admin_client, mailbox, now):
    response = admin_client.post(f"/integrations/{mailbox.pk}/test/", follow=True)

    alert = Alert.objects.get()
    assert alert.integration == mailbox
    assert alert.summary.startswith("Test alert from Nagios mail, sent by Alice (test-")
    row = InboundEvent.objects.get()
    assert (row.endpoint, row.outcome, row.alert) == ("email:test", "created", alert)
    assert f"To: {mailbox.email_address}" in row.body
    assert f"Test email opened alert #{alert.pk}" in text(response)

    admin_client.post(f"/integrations/{mailbox.pk}/test/")
    assert Alert.objects.count() == 2  # each test is its own alert


def test_a_test_email_the_rules_ignore_says_so(admin_client, mailbox, now):
    mailbox.email_rules = {
        "filters": [
            {"action": "require", "field": "sender", "operator": "contains", "value": "nagios@"}
        ]
    }
    mailbox.save()

    response = admin_client.post(f"/integrations/{mailbox.pk}/test/", follow=True)

    assert not Alert.objects.exists()
    assert "The test email was ignored: Ignored: filter 1 accepts only mail" in text(response)


def test_the_email_rules_of_another_kind_are_refused(admin_client, webhook):
    response = admin_client.post(f"/integrations/{webhook.pk}/email-rules/", rules_post())

    assert response.status_code == 400
    webhook.refresh_from_db()
    assert webhook.email_rules == {}


@pytest.mark.parametrize(
    "role, allowed",
    [
        (PlatformRole.OWNER, True),
        (PlatformRole.INTEGRATIONS_ADMIN, True),
        (PlatformRole.GROUP_ADMIN, False),
        (PlatformRole.BASIC, False),
        (PlatformRole.STAKEHOLDER, False),
    ],
)
def test_only_integration_managers_edit_email_rules(client, mailbox, role, allowed):
    client.force_login(make_user("someone", role))

    response = client.post(f"/integrations/{mailbox.pk}/email-rules/", rules_post(mode="keywords"))

    mailbox.refresh_from_db()
    if allowed:
        assert response.status_code == 302
        assert mailbox.email_rules == {"mode": "keywords"}
    else:
        assert response.status_code == 403
        assert "Integrations Admin" in text(response)
        assert mailbox.email_rules == {}
    assert client.get(f"/integrations/{mailbox.pk}/").status_code == (200 if allowed else 403)


def test_the_email_rules_need_a_login(client, mailbox):
    response = client.post(f"/integrations/{mailbox.pk}/email-rules/", rules_post())

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_missing_integration_is_404(admin_client):
    assert admin_client.post("/integrations/999/email-rules/", rules_post()).status_code == 404


@override_settings(PUBLIC_BASE_URL="https://alertops.example.com", ANYMAIL={})
def test_a_public_deployment_is_warned_of_an_unreachable_domain_and_no_secret():
    found = {message.id for message in email_checks.inbound_email_settings()}

    assert found == {"integrations.W001", "integrations.W002"}
    assert any(m.id == "integrations.W001" for m in checks.run_checks(tags=["security"]))


@override_settings(ANYMAIL={})
def test_check_deploy_warns_on_a_local_deployment_too():
    found = {
        message.id
        for message in checks.run_checks(tags=["security"], include_deployment_checks=True)
    }

    assert {"integrations.W001", "integrations.W002"} <= found


@override_settings(
    PUBLIC_BASE_URL="https://alertops.example.com",
    INBOUND_EMAIL_DOMAIN="in.example.com",
    ANYMAIL={"WEBHOOK_SECRET": "u:p"},
)
def test_a_well_set_up_deployment_has_no_email_warnings():
    assert email_checks.inbound_email_settings() == []
    assert email_checks.inbound_email_deploy_settings() == []


def test_the_inbound_log_says_what_an_email_without_integration_was(admin_client, mailbox):
    from tests.email_helpers import message

    deliver(message("nobody@inbound.alertops.localhost"))
    deliver(message("reply+1.1.00000000000000000000@inbound.alertops.localhost", body="ack"))

    page = admin_client.get("/integrations/log/").content.decode()

    assert '<span class="muted">no integration has the address</span>' in page
    assert '<span class="muted">reply to an alert email</span>' in page
    assert '<span class="muted">unknown key</span>' not in page
