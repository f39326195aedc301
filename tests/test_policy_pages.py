"""Escalation policies in the dashboard: list, create, edit, delete, dry run, permissions."""

import html
from typing import Any

import pytest

from accounts.models import PlatformRole
from escalation.models import EscalationPolicy, EscalationStep, Notification, StepTarget
from groups.models import Group
from tests.conftest import make_user

KEEP_VERSION = "Alerts already escalating keep the version they started with."


def text(response) -> str:
    return html.unescape(response.content.decode())


STEP_DEFAULTS: dict[str, Any] = {
    "target": "primary",
    "retries": 0,
    "retry_interval_minutes": 5,
    "member_wait_minutes": 0,
    "wait_minutes": 5,
    "email_use": "on",
    "email_after": 0,
    "sms_after": 0,
    "voice_after": 0,
}


def policy_data(steps: list[dict[str, Any]], existing: int = 0, **fields: Any) -> dict[str, Any]:
    """The POST body of the policy form: the policy's fields and its step formset."""
    data: dict[str, Any] = {
        "name": "Checkout",
        "description": "Checkout service on-call",
        "notification_type": "policy",
        "repeat_count": "0",
        "low_urgency_email_only": "on",
        "ack_timeout_minutes": "",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(existing),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, step in enumerate(steps):
        for key, value in {"order": i + 1, **STEP_DEFAULTS, **step}.items():
            if value is not None:
                data[f"steps-{i}-{key}"] = value
    return data


def existing_steps(policy: EscalationPolicy) -> list[dict[str, Any]]:
    """The formset rows for the fixture policy's steps (email only), unchanged."""
    return [
        {"id": s.pk, "order": s.position + 1, "target": s.target, "wait_minutes": s.wait_minutes}
        for s in policy.steps.order_by("position")
    ]


# -- Who may do what ---------------------------------------------------------


def test_policy_pages_need_a_login(client, policy):
    for url in ["/policies/", "/policies/new/", f"/policies/{policy.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url
    response = client.post(f"/policies/{policy.pk}/delete/")
    assert response["Location"].startswith("/login/")
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_owner_and_group_admin_may_open_the_new_policy_form(client, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/policies/new/")
    assert response.status_code == 200
    assert "New escalation policy" in text(response)
    assert KEEP_VERSION in text(response)


def test_app_admin_may_create_a_policy(client, db):
    client.force_login(make_user("ada", PlatformRole.APP_ADMIN))
    response = client.post("/policies/new/", policy_data([{}]))
    assert response.status_code == 302
    assert EscalationPolicy.objects.filter(name="Checkout").exists()


@pytest.mark.parametrize("who", ["bob", "stakeholder"])
def test_basic_and_stakeholder_cannot_create_policies(client, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/policies/new/")
    assert response.status_code == 403
    assert "Only an Owner, App Admin or Group Admin can create escalation policies" in text(
        response
    )
    response = client.post("/policies/new/", policy_data([{}]))
    assert response.status_code == 403
    assert not EscalationPolicy.objects.filter(name="Checkout").exists()


def test_integrations_admin_cannot_edit_a_policy(client, group, policy):
    client.force_login(make_user("ian", PlatformRole.INTEGRATIONS_ADMIN))
    response = client.post(
        f"/policies/{policy.pk}/",
        policy_data(existing_steps(policy), existing=3, name="Renamed"),
    )
    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.name == "Default"


def test_basic_user_reads_the_policy_without_the_form(client, group, policy, bob):
    client.force_login(bob)
    response = client.get(f"/policies/{policy.pk}/")
    page = text(response)
    assert response.status_code == 200
    assert "Primary by Email; then 5 min until the next step" in page
    assert "Secondary by Email; then 10 min until the next step" in page
    assert "Only an Owner, App Admin or Group Admin can change this policy." in page
    assert 'name="steps-TOTAL_FORMS"' not in page
    assert "Run the dry run" in page


def test_unknown_policy_is_not_found(client, alice):
    client.force_login(alice)
    assert client.get("/policies/999/").status_code == 404
    assert client.post("/policies/999/delete/").status_code == 404


# -- The list ----------------------------------------------------------------


def test_list_shows_type_steps_groups_and_version(client, group, policy, stakeholder):
    client.force_login(stakeholder)
    response = client.get("/policies/")
    page = text(response)
    assert response.status_code == 200
    assert f'<a href="/policies/{policy.pk}/">Default</a>' in page
    assert "Policy: the step's own channels" in page
    assert "3 steps: Primary → Secondary → Manager" in page
    assert f'<a href="/groups/{group.pk}/">Payments</a>' in page
    assert f"<td>{EscalationPolicy.objects.get(pk=policy.pk).version}</td>" in page
    assert "New policy" not in page


def test_empty_list_says_what_to_do(client, alice, bob):
    client.force_login(alice)
    page = text(client.get("/policies/"))
    assert "No escalation policies yet." in page
    assert "Create the first one" in page
    client.force_login(bob)
    assert "Ask an Owner, App Admin or Group Admin to create one." in text(client.get("/policies/"))


# -- Creating and editing -----------------------------------------------------


def test_create_policy_with_two_steps_and_channel_delays(client, carol, bob):
    client.force_login(carol)
    data = policy_data(
        [
            {
                "target": "primary",
                "retries": 2,
                "retry_interval_minutes": 3,
                "wait_minutes": 10,
                "email_use": None,
                "sms_use": "on",
                "sms_after": 0,
                "voice_use": "on",
                "voice_after": 2,
            },
            {
                "target": "users",
                "users": [bob.pk],
                "member_wait_minutes": 1,
                "wait_minutes": 0,
                "email_use": "on",
                "email_after": 0,
            },
        ],
        repeat_count="2",
        ack_timeout_minutes="30",
        notification_type="policy",
    )

    response = client.post("/policies/new/", data)

    policy = EscalationPolicy.objects.get(name="Checkout")
    assert response.status_code == 302
    assert response["Location"] == f"/policies/{policy.pk}/"
    assert policy.repeat_count == 2
    assert policy.ack_timeout_minutes == 30
    assert policy.low_urgency_email_only is True
    first, second = policy.steps.order_by("position")
    assert (first.position, first.target, first.retries, first.retry_interval_minutes) == (
        0,
        StepTarget.PRIMARY,
        2,
        3,
    )
    assert first.wait_minutes == 10
    assert first.channels == [
        {"channel": "sms", "delay_minutes": 0},
        {"channel": "voice", "delay_minutes": 2},
    ]
    assert first.users.count() == 0
    assert (second.position, second.target, second.member_wait_minutes) == (1, "users", 1)
    assert list(second.users.all()) == [bob]
    assert second.channels == [{"channel": "email", "delay_minutes": 0}]
    followed = client.get(response["Location"])
    assert "Created the escalation policy “Checkout”." in text(followed)


def test_empty_new_step_rows_are_ignored(client, alice):
    client.force_login(alice)
    data = policy_data([{}, {"target": "", "order": None}])
    response = client.post("/policies/new/", data)
    assert response.status_code == 302
    assert EscalationStep.objects.filter(policy__name="Checkout").count() == 1


def assert_refused(response, message: str) -> None:
    assert response.status_code == 200
    page = text(response)
    assert "Nothing was saved" in page
    assert message in page
    assert not EscalationPolicy.objects.filter(name="Checkout").exists()
    assert not EscalationStep.objects.filter(policy__name="Checkout").exists()


@pytest.mark.parametrize(
    ("step", "fields", "message"),
    [
        ({"target": "users"}, {}, "Choose at least one person: this step notifies named users."),
        (
            {"email_use": None},
            {},
            "Choose at least one channel (Email, SMS or Voice): with the Policy notification "
            "type the step's channels are how people are reached.",
        ),
        ({}, {"repeat_count": "11"}, "The repeat count can be at most 10."),
        ({"retries": "-1"}, {}, "Retries cannot be negative."),
        ({"wait_minutes": "-5"}, {}, "The wait before the next step cannot be negative."),
        ({"member_wait_minutes": "-1"}, {}, "The wait between members cannot be negative."),
        ({"sms_use": "on", "sms_after": "-2"}, {}, "The SMS delay cannot be negative."),
        ({}, {"ack_timeout_minutes": "0"}, "The acknowledgement timeout must be at least 1"),
        ({"retries": "11"}, {}, "Retries can be at most 10."),
        ({"retries": "2", "retry_interval_minutes": "0"}, {}, "With retries, wait at least 1"),
        ({}, {"name": ""}, "Give the policy a name"),
    ],
)
def test_invalid_policy_is_refused_with_a_message(client, alice, step, fields, message):
    client.force_login(alice)
    response = client.post("/policies/new/", policy_data([step], **fields))
    assert_refused(response, message)


def test_every_mistake_is_reported_at_once(client, alice):
    client.force_login(alice)
    response = client.post("/policies/new/", policy_data([{"email_use": None, "retries": "-1"}]))
    assert_refused(response, "Retries cannot be negative.")
    assert "Choose at least one channel (Email, SMS or Voice)" in text(response)


def test_named_users_with_another_target_are_refused(client, alice, bob):
    client.force_login(alice)
    response = client.post(
        "/policies/new/", policy_data([{"target": "secondary", "users": [bob.pk]}])
    )
    assert_refused(
        response,
        "Named users are only notified when the target is Named users: clear the selection "
        "or choose Named users as the target.",
    )


def test_a_policy_without_steps_is_refused(client, alice):
    client.force_login(alice)
    response = client.post("/policies/new/", policy_data([{"target": "", "order": None}]))
    assert_refused(response, "Add at least one step: a policy without steps pages nobody.")


def test_user_type_needs_no_channels(client, alice):
    client.force_login(alice)
    data = policy_data([{"email_use": None}], notification_type="user")
    response = client.post("/policies/new/", data)
    assert response.status_code == 302
    step = EscalationStep.objects.get(policy__name="Checkout")
    assert step.channels == []


def test_duplicate_name_is_refused(client, alice, policy):
    client.force_login(alice)
    response = client.post("/policies/new/", policy_data([{}], name="Default"))
    assert response.status_code == 200
    assert "Another policy already has this name; choose a different one." in text(response)
    assert EscalationPolicy.objects.filter(name="Default").count() == 1


def test_edit_reorders_deletes_and_adds_steps_and_raises_the_version(client, alice, policy):
    client.force_login(alice)
    before = EscalationPolicy.objects.get(pk=policy.pk).version
    primary, secondary, manager = existing_steps(policy)
    primary["order"] = 2
    secondary["order"] = 1
    manager["DELETE"] = "on"
    added = {"order": "", "target": "all", "email_use": None, "voice_use": "on"}
    data = policy_data([primary, secondary, manager, added], existing=3, name="Default")
    page = client.get(f"/policies/{policy.pk}/")
    assert 'value="Default"' in text(page)

    response = client.post(f"/policies/{policy.pk}/", data)

    assert response.status_code == 302
    steps = list(policy.steps.order_by("position"))
    assert [(s.position, s.target) for s in steps] == [
        (0, StepTarget.SECONDARY),
        (1, StepTarget.PRIMARY),
        (2, StepTarget.ALL_MEMBERS),
    ]
    assert steps[2].channels == [{"channel": "voice", "delay_minutes": 0}]
    after = EscalationPolicy.objects.get(pk=policy.pk).version
    assert after > before
    followed = text(client.get(response["Location"]))
    assert f"Saved “Default” as version {after}. {KEEP_VERSION}" in followed


def test_edit_form_shows_stored_channel_delays(client, alice, policy):
    step = policy.steps.get(position=0)
    step.channels = [
        {"channel": "sms", "delay_minutes": 0},
        {"channel": "voice", "delay_minutes": 4},
    ]
    step.save()
    client.force_login(alice)
    page = text(client.get(f"/policies/{policy.pk}/"))
    assert 'name="steps-0-voice_use" id="id_steps-0-voice_use" checked' in page
    assert 'name="steps-0-voice_after" value="4"' in page
    assert 'name="steps-0-email_use" id="id_steps-0-email_use">' in page


def test_invalid_edit_changes_nothing(client, alice, policy):
    client.force_login(alice)
    version = EscalationPolicy.objects.get(pk=policy.pk).version
    rows = existing_steps(policy)
    rows[0]["wait_minutes"] = "-1"
    response = client.post(
        f"/policies/{policy.pk}/", policy_data(rows, existing=3, name="Default", repeat_count=3)
    )
    assert response.status_code == 200
    assert "The wait before the next step cannot be negative." in text(response)
    policy.refresh_from_db()
    assert (policy.repeat_count, policy.version) == (0, version)
    assert policy.steps.get(position=0).wait_minutes == 5


# -- Deleting -----------------------------------------------------------------


def test_deleting_a_policy_a_group_uses_is_refused(client, alice, group, policy):
    client.force_login(alice)
    page = text(client.get(f"/policies/{policy.pk}/delete/"))
    assert "It cannot be deleted while groups use it" in page
    response = client.post(f"/policies/{policy.pk}/delete/", follow=True)
    assert "“Default” was not deleted: Payments still use it." in text(response)
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()


def test_deleting_an_unused_policy(client, carol, policy):
    client.force_login(carol)
    assert "No group uses it." in text(client.get(f"/policies/{policy.pk}/delete/"))
    response = client.post(f"/policies/{policy.pk}/delete/", follow=True)
    assert "Deleted the escalation policy “Default”." in text(response)
    assert not EscalationPolicy.objects.filter(pk=policy.pk).exists()
    assert not EscalationStep.objects.filter(policy_id=policy.pk).exists()


def test_basic_user_cannot_delete(client, bob, policy):
    client.force_login(bob)
    assert client.get(f"/policies/{policy.pk}/delete/").status_code == 403
    response = client.post(f"/policies/{policy.pk}/delete/")
    assert response.status_code == 403
    assert "can delete escalation policies" in text(response)
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()


# -- Dry run from the policy page ----------------------------------------------


def test_policy_dry_run_against_a_group_using_it(client, alice, group, policy):
    client.force_login(alice)
    response = client.get(
        f"/policies/{policy.pk}/",
        {"group": group.pk, "severity": "critical", "start": "2026-03-02T09:00"},
    )
    page = text(response)
    assert "Nothing was sent: this is a dry run of Default" in page
    assert "<td>Alice</td><td>Email</td><td>alice@example.com</td>" in page
    assert "<td>Carol</td><td>Email</td><td>carol@example.com</td>" in page
    assert Notification.objects.count() == 0


def test_unused_policy_dry_runs_against_any_group(client, alice, group, policy):
    spare = EscalationPolicy.objects.create(name="Spare")
    EscalationStep.objects.create(
        policy=spare, target=StepTarget.MANAGER, channels=[{"channel": "sms", "delay_minutes": 1}]
    )
    other = Group.objects.create(name="Search")
    client.force_login(alice)
    page = text(client.get(f"/policies/{spare.pk}/"))
    assert f'<option value="{other.pk}">Search</option>' in page
    assert f'<option value="{group.pk}">Payments</option>' in page

    response = client.get(
        f"/policies/{spare.pk}/",
        {"group": group.pk, "severity": "critical", "start": "2026-03-02T09:00"},
    )
    page = text(response)
    assert "this is a dry run of Spare" in page
    assert "<td>Carol</td><td>SMS</td><td>+15550000003</td>" in page
    assert "+1 min" in page


def test_policy_dry_run_needs_a_group(client, alice, policy):
    client.force_login(alice)
    page = text(client.get(f"/policies/{policy.pk}/", {"severity": "critical"}))
    assert "There is no group to simulate against yet." in page
