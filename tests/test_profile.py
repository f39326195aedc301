"""The profile: name and time zone, contact methods, notification rules, a test page."""

import html

import pytest

from accounts.models import Channel, ContactMethod, NotificationRule, Urgency
from alertops.lib import clock
from escalation.models import Notification, NotificationStatus
from tests.conftest import T0


def text(response) -> str:
    return html.unescape(response.content.decode())


def add_contact(client, channel: str, address: str, label: str = ""):
    return client.post(
        "/profile/contacts/",
        {"contact-channel": channel, "contact-address": address, "contact-label": label},
    )


def add_rule(client, urgency: str, contact: ContactMethod, delay) -> object:
    return client.post(
        f"/profile/rules/{urgency}/",
        {f"{urgency}-delay_minutes": delay, f"{urgency}-contact_method": contact.pk},
    )


def test_profile_pages_need_a_login(client, alice):
    contact = alice.contact_methods.first()
    assert client.get("/profile/")["Location"].startswith("/login/?next=")
    for url in [
        "/profile/",
        "/profile/contacts/",
        f"/profile/contacts/{contact.pk}/delete/",
        "/profile/rules/high/",
        "/profile/rules/customise/",
        "/profile/test-page/",
    ]:
        response = client.post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url
    assert ContactMethod.objects.filter(pk=contact.pk).exists()
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("who", ["alice", "bob", "stakeholder"])
def test_everybody_sees_their_own_profile_only(client, request, alice, who):
    user = request.getfixturevalue(who)
    client.force_login(user)
    page = text(client.get("/profile/"))
    assert f"<td>{user.email}</td>" in page
    if user != alice:
        assert "alice@example.com" not in page


def test_name_and_time_zone_change(client, bob):
    client.force_login(bob)
    response = client.post("/profile/", {"full_name": "Robert", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.full_name, bob.time_zone) == ("Robert", "Asia/Tokyo")
    page = text(client.get("/profile/"))
    assert "Saved. Times are now shown in Asia/Tokyo." in page
    assert '<option value="Asia/Tokyo" selected>Asia/Tokyo</option>' in page
    assert " in Asia/Tokyo." in page


def test_unknown_time_zone_is_refused(client, bob):
    client.force_login(bob)
    response = client.post("/profile/", {"full_name": "Bob", "time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "“Mars/Olympus” is not a time zone we know" in text(response)
    bob.refresh_from_db()
    assert bob.time_zone == "UTC"


def test_add_email_and_phone_numbers(client, bob):
    client.force_login(bob)
    response = add_contact(client, "email", "bob.work@example.com", "work")
    assert response.status_code == 302
    response = add_contact(client, "sms", "+44 20 7946-0958")
    assert response.status_code == 302
    assert ContactMethod.objects.filter(
        user=bob, channel=Channel.EMAIL, address="bob.work@example.com", label="work", position=1
    ).exists()
    assert ContactMethod.objects.filter(
        user=bob, channel=Channel.SMS, address="+442079460958", position=1
    ).exists()
    assert "Added SMS +442079460958." in text(client.get("/profile/"))


@pytest.mark.parametrize(
    ("channel", "address", "message"),
    [
        ("email", "bob-at-example", "“bob-at-example” is not an email address"),
        ("sms", "5551234567", "“5551234567” is not a phone number in international form"),
        ("voice", "+1555abc", "“+1555abc” is not a phone number in international form"),
        ("sms", "+0123456789", "is not a phone number in international form"),
        ("email", "bob@example.com", "You already have Email bob@example.com on your profile."),
        ("sms", "", "This field is required."),
    ],
)
def test_invalid_contact_methods_are_refused(client, bob, channel, address, message):
    client.force_login(bob)
    before = ContactMethod.objects.count()
    response = add_contact(client, channel, address)
    assert response.status_code == 200
    assert message in text(response)
    assert ContactMethod.objects.count() == before


def test_delete_own_contact_method_and_its_rules(client, bob):
    sms = bob.contact_methods.get(channel=Channel.SMS)
    NotificationRule.objects.create(user=bob, urgency=Urgency.HIGH, contact_method=sms)
    client.force_login(bob)
    response = client.post(f"/profile/contacts/{sms.pk}/delete/", follow=True)
    assert "Deleted SMS +15550000002 and the 1 notification rule(s) that used it." in text(response)
    assert not ContactMethod.objects.filter(pk=sms.pk).exists()
    assert not NotificationRule.objects.filter(user=bob).exists()


def test_cannot_delete_somebody_elses_contact_method(client, alice, bob):
    theirs = alice.contact_methods.first()
    client.force_login(bob)
    assert client.post(f"/profile/contacts/{theirs.pk}/delete/").status_code == 404
    assert client.get(f"/profile/contacts/{theirs.pk}/delete/").status_code == 405
    assert ContactMethod.objects.filter(pk=theirs.pk).exists()


def test_defaults_are_shown_until_customised(client, bob):
    client.force_login(bob)
    page = text(client.get("/profile/"))
    assert "You have no high urgency rules of your own, so the defaults apply:" in page
    assert "1 minute after I am paged, notify me via SMS +15550000002 " in page
    assert "3 minutes after I am paged, notify me via Voice +15550000002 " in page

    response = client.post("/profile/rules/customise/", follow=True)

    rules = NotificationRule.objects.filter(user=bob)
    assert sorted((r.urgency, r.contact_method.channel, r.delay_minutes) for r in rules) == [
        ("high", "email", 0),
        ("high", "sms", 1),
        ("high", "voice", 3),
        ("low", "email", 0),
    ]
    page = text(response)
    assert "Wrote the defaults down as 4 rule(s) of your own" in page
    assert "so the defaults apply" not in page


def test_customise_without_contact_methods_says_what_to_do(client, bob):
    bob.contact_methods.all().delete()
    client.force_login(bob)
    page = text(client.get("/profile/"))
    assert "You have no contact methods, so nobody can page you." in page
    response = client.post("/profile/rules/customise/", follow=True)
    assert "Add a contact method first" in text(response)
    assert not NotificationRule.objects.filter(user=bob).exists()


def test_add_and_delete_rules(client, bob):
    voice = bob.contact_methods.get(channel=Channel.VOICE)
    client.force_login(bob)

    response = add_rule(client, "high", voice, 2)

    assert response.status_code == 302
    rule = NotificationRule.objects.get(user=bob)
    assert (rule.urgency, rule.contact_method, rule.delay_minutes) == ("high", voice, 2)
    page = text(client.get("/profile/"))
    assert "2 minutes after I am paged, notify me via Voice +15550000002" in page
    assert "You have no low urgency rules of your own, so the defaults apply:" in page

    response = client.post(f"/profile/rules/{rule.pk}/delete/", follow=True)

    assert not NotificationRule.objects.filter(user=bob).exists()
    assert "That was your last high urgency rule: the defaults apply again." in text(response)


@pytest.mark.parametrize(
    ("delay", "message"),
    [
        (-1, "The delay cannot be negative: 0 means at once."),
        ("", "Enter how many minutes after the page (0 for at once)."),
        (5000, "The delay can be at most 1440 minutes (a day)."),
    ],
)
def test_invalid_rules_are_refused(client, bob, delay, message):
    client.force_login(bob)
    response = add_rule(client, "low", bob.contact_methods.first(), delay)
    assert response.status_code == 200
    assert message in text(response)
    assert not NotificationRule.objects.exists()


def test_duplicate_rule_and_somebody_elses_contact_are_refused(client, alice, bob):
    email = bob.contact_methods.get(channel=Channel.EMAIL)
    NotificationRule.objects.create(user=bob, urgency=Urgency.LOW, contact_method=email)
    client.force_login(bob)
    response = add_rule(client, "low", email, 0)
    assert "You already have this rule: 0 min via Email bob@example.com." in text(response)
    response = add_rule(client, "low", alice.contact_methods.first(), 0)
    assert "Choose one of your own contact methods." in text(response)
    assert client.post("/profile/rules/medium/").status_code == 404
    assert NotificationRule.objects.count() == 1


def test_cannot_delete_somebody_elses_rule(client, alice, bob):
    rule = NotificationRule.objects.create(
        user=alice, urgency=Urgency.HIGH, contact_method=alice.contact_methods.first()
    )
    client.force_login(bob)
    assert client.post(f"/profile/rules/{rule.pk}/delete/").status_code == 404
    assert NotificationRule.objects.filter(pk=rule.pk).exists()


def test_test_page_queues_one_notification_per_contact_method(client, bob, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: T0)
    client.force_login(bob)

    response = client.post("/profile/test-page/", follow=True)

    rows = Notification.objects.order_by("channel")
    assert [(n.channel, n.recipient) for n in rows] == [
        ("email", "bob@example.com"),
        ("sms", "+15550000002"),
        ("voice", "+15550000002"),
    ]
    assert all(n.alert is None and n.user == bob for n in rows)
    assert all(n.status == NotificationStatus.PENDING and n.due_at == T0 for n in rows)
    assert "will arrive within seconds and appear in the Outbox" in text(response)
    assert client.get("/profile/test-page/").status_code == 405


def test_test_page_without_contact_methods_sends_nothing(client, bob):
    bob.contact_methods.all().delete()
    client.force_login(bob)
    response = client.post("/profile/test-page/", follow=True)
    assert "Nothing was sent: you have no contact methods yet." in text(response)
    assert Notification.objects.count() == 0
