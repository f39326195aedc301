"""Groups in the dashboard: the list, one group's page, and its dry run."""

import html
import re

import pytest

from escalation.alerts import AlertInput, raise_alert
from escalation.models import Notification
from groups.models import Group, Membership
from tests.conftest import T0


def text(response) -> str:
    return html.unescape(response.content.decode())


def dry_run_rows(page: str) -> list[list[str]]:
    """The dry-run table as rows of cell texts, tags stripped."""
    body = page.split('<table class="list dry-run">')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], flags=re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def test_group_pages_need_a_login(client, group):
    for url in ["/groups/", f"/groups/{group.pk}/", f"/groups/{group.pk}/?severity=critical"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "stakeholder"])
def test_every_role_may_read_groups(client, request, group, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/groups/").status_code == 200
    assert client.get(f"/groups/{group.pk}/").status_code == 200


def test_groups_are_read_only_pages(client, alice, group):
    client.force_login(alice)
    assert client.post("/groups/").status_code == 405
    assert client.post(f"/groups/{group.pk}/").status_code == 405


def test_unknown_group_is_not_found(client, bob):
    client.force_login(bob)
    assert client.get("/groups/999/").status_code == 404


def test_list_shows_members_and_policy(client, bob, group, policy):
    Group.objects.create(name="Search")
    client.force_login(bob)
    page = text(client.get("/groups/"))
    assert f'<a href="/groups/{group.pk}/">Payments</a>' in page
    assert 'Alice <span class="muted">(Primary)</span>' in page
    assert 'Bob <span class="muted">(Secondary)</span>' in page
    assert f'<a href="/policies/{policy.pk}/">Default</a>' in page
    search_row = page.split("Search</a>")[1].split("</tr>")[0]
    assert "nobody yet" in search_row
    assert "Default (Primary, Secondary, Manager)" in search_row


def test_empty_group_list_says_what_to_do(client, alice, bob):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert (
        'No groups yet. <a href="/admin/groups/group/add/">Create one in Configuration</a>'
        in text(client.get("/groups/"))
    )
    client.force_login(bob)
    assert "No groups yet. Ask an admin to create one in Configuration." in text(
        client.get("/groups/")
    )


def test_group_page_shows_members_policy_and_open_alerts(client, bob, group, policy):
    alert = raise_alert(group, AlertInput(summary="Card payments failing", dedup_key="k"), T0)[0]
    client.force_login(bob)
    page = text(client.get(f"/groups/{group.pk}/"))
    assert "<td>0</td><td>Alice</td>" in page
    assert "<td>1</td><td>Bob</td>" in page
    assert "<td>2</td><td>Carol</td>" in page
    assert "<td>Primary</td>" in page and "<td>Manager</td>" in page
    assert f'<a href="/policies/{policy.pk}/">Default</a>' in page
    assert f'<a href="/alerts/{alert.pk}/">Card payments failing</a>' in page
    assert "Configuration (ask an admin)" in page


def test_group_page_links_staff_to_the_admin(client, alice, group):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    page = text(client.get(f"/groups/{group.pk}/"))
    assert f'href="/admin/groups/group/{group.pk}/change/"' in page


def test_group_page_empty_states(client, bob):
    empty = Group.objects.create(name="Search")
    client.force_login(bob)
    page = text(client.get(f"/groups/{empty.pk}/"))
    assert "Nobody is in this group yet" in page
    assert "No open alerts for Search." in page
    assert "the built-in “Default (Primary, Secondary, Manager)” applies" in page


def test_dry_run_in_the_viewers_time_zone(client, alice, group):
    alice.time_zone = "Europe/Berlin"
    alice.save()
    client.force_login(alice)

    # 10:00 in Berlin on 2 March 2026 (CET, UTC+1) is T0, 09:00 UTC.
    response = client.get(
        f"/groups/{group.pk}/", {"severity": "critical", "start": "2026-03-02T10:00"}
    )

    page = text(response)
    assert response.status_code == 200
    assert "Nothing was sent: this is a dry run of Default" in page
    assert "When (Europe/Berlin)" in page
    assert "critical alert from Mon 2 Mar 2026 10:00 (Europe/Berlin)" in page
    assert dry_run_rows(page) == [
        [
            "Mon 10:00 +0 min",
            "Alice",
            "Email",
            "alice@example.com",
            "step 1, Primary; policy: Email at +0 min",
        ],
        [
            "Mon 10:05 +5 min",
            "Bob",
            "Email",
            "bob@example.com",
            "step 2, Secondary; policy: Email at +0 min",
        ],
        [
            "Mon 10:15 +15 min",
            "Carol",
            "Email",
            "carol@example.com",
            "step 3, Manager; policy: Email at +0 min",
        ],
    ]
    assert '<time datetime="2026-03-02T10:15:00+01:00">' in page
    assert "The escalation policy has run its course" in page
    assert Notification.objects.count() == 0


def test_dry_run_notes_say_when_nobody_holds_a_role(client, bob, group):
    Membership.objects.filter(group=group, is_secondary=True).update(is_secondary=False)
    client.force_login(bob)
    page = text(
        client.get(f"/groups/{group.pk}/", {"severity": "error", "start": "2026-03-02T09:00"})
    )
    assert "Nobody in Payments is Secondary; skipping step 2, Secondary." in page
    assert [row[1] for row in dry_run_rows(page)] == ["Alice", "Carol"]


def test_dry_run_defaults_to_now_and_refuses_a_bad_start(client, bob, group):
    client.force_login(bob)
    page = text(client.get(f"/groups/{group.pk}/", {"severity": "critical", "start": ""}))
    assert [row[1] for row in dry_run_rows(page)] == ["Alice", "Bob", "Carol"]
    page = text(client.get(f"/groups/{group.pk}/", {"severity": "critical", "start": "soon"}))
    assert "Enter the start as a date and time" in page
    assert "Nothing was sent" not in page
    page = text(client.get(f"/groups/{group.pk}/", {"severity": "loud"}))
    assert "Select a valid choice. loud is not one of the available choices." in page


def test_dry_run_form_starts_at_now_in_the_viewers_zone(client, bob, group, monkeypatch):
    from alertops.lib import clock

    monkeypatch.setattr(clock, "now", lambda: T0)
    bob.time_zone = "America/New_York"
    bob.save()
    client.force_login(bob)
    page = text(client.get(f"/groups/{group.pk}/"))
    assert 'value="2026-03-02T04:00"' in page
    assert "Start (America/New_York)" in page


def test_dry_run_refuses_a_start_the_clocks_skip(client, alice, group):
    alice.time_zone = "Europe/Berlin"
    alice.save()
    client.force_login(alice)
    # Clocks in Berlin go from 02:00 to 03:00 on 29 March 2026: 02:30 never happens.
    response = client.get(
        f"/groups/{group.pk}/", {"severity": "critical", "start": "2026-03-29T02:30"}
    )
    page = text(response)
    assert (
        "be interpreted in time zone Europe/Berlin; it may be ambiguous or it may not exist" in page
    )
    assert "Nothing was sent: this is a dry run" not in page
