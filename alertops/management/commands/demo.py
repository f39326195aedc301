"""Load the demo data (idempotent) and print how to reach it."""

from datetime import time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Channel, ContactMethod, PlatformRole, User
from alertops.lib import clock
from escalation.models import EscalationPolicy, EscalationStep, StepTarget
from groups.models import Group, Membership
from integrations import setup
from integrations.models import Integration, IntegrationKind
from schedules.models import Rotation, RotationMember, Schedule, ShiftUnit

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"
GROUP_NAME = "Payments On-Call"
POLICY_NAME = "Default escalation policy"
# (username, full name, role flag, phone)
MEMBERS = [
    ("priya", "Priya Patel", "is_primary", "+15550100001"),
    ("sam", "Sam Okafor", "is_secondary", "+15550100002"),
    ("morgan", "Morgan Lee", "is_manager", "+15550100003"),
]
STEPS = [(StepTarget.PRIMARY, 5), (StepTarget.SECONDARY, 10), (StepTarget.MANAGER, 10)]
SCHEDULE_ZONE = "Europe/London"
# (layer name, role, usernames in turn): weekly, handing over on Mondays at 09:00.
LAYERS = [
    ("Weekly Primary", "primary", ["priya", "sam"]),
    ("Weekly Secondary", "secondary", ["sam", "priya"]),
]
INTEGRATIONS = [
    ("Prometheus Alertmanager", IntegrationKind.ALERTMANAGER),
    ("Generic webhook", IntegrationKind.WEBHOOK),
    ("Grafana", IntegrationKind.GRAFANA),
    ("PagerDuty Events API", IntegrationKind.PAGERDUTY),
    ("Opsgenie Alert API", IntegrationKind.OPSGENIE),
    ("Inbound email", IntegrationKind.EMAIL),
]


class Command(BaseCommand):
    help = "Create the demo admin, group, policy and integrations if missing, and print them."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            integrations = self.load()
        base = settings.PUBLIC_BASE_URL
        out = self.stdout
        out.write("")
        out.write(f"{'Dashboard:':<26}{base}/")
        out.write(f"{'Admin login:':<26}{ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        for integration in integrations:
            where = setup.url_of(integration, base)
            if integration.kind in (IntegrationKind.PAGERDUTY, IntegrationKind.OPSGENIE):
                where += f"  (key {integration.key})"
            out.write(f"{integration.name + ':':<26}{where}")
        out.write("")

    def load(self) -> list[Integration]:
        if not User.objects.filter(username=ADMIN_USERNAME).exists():
            User.objects.create_superuser(
                ADMIN_USERNAME,
                "admin@example.com",
                ADMIN_PASSWORD,
                full_name="Demo Admin",
                role=PlatformRole.OWNER,
            )
        policy, created = EscalationPolicy.objects.get_or_create(
            name=POLICY_NAME,
            defaults={"description": "Primary, then Secondary after 5 minutes, then Manager."},
        )
        if created:
            for position, (target, wait) in enumerate(STEPS):
                EscalationStep.objects.create(
                    policy=policy,
                    position=position,
                    target=target,
                    channels=[Channel.EMAIL, Channel.SMS],
                    wait_minutes=wait,
                )
        group, _ = Group.objects.get_or_create(
            name=GROUP_NAME,
            defaults={"description": "Card payments and payouts.", "escalation_policy": policy},
        )
        for position, (username, full_name, flag, phone) in enumerate(MEMBERS):
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={"full_name": full_name, "email": f"{username}@example.com"},
            )
            for channel, address in [
                (Channel.EMAIL, user.email),
                (Channel.SMS, phone),
                (Channel.VOICE, phone),
            ]:
                ContactMethod.objects.get_or_create(user=user, channel=channel, address=address)
            Membership.objects.get_or_create(
                group=group, user=user, defaults={flag: True, "position": position}
            )
        self.load_schedule(group)
        return [
            Integration.objects.get_or_create(name=name, kind=kind, defaults={"group": group})[0]
            for name, kind in INTEGRATIONS
        ]

    def load_schedule(self, group: Group) -> None:
        """Weekly rotations in which Priya is Primary this week and Sam next week."""
        schedule, created = Schedule.objects.get_or_create(
            group=group, defaults={"time_zone": SCHEDULE_ZONE}
        )
        if not created:
            return
        today = clock.now().astimezone(schedule.zone).date()
        monday = today - timedelta(days=today.weekday())
        for name, role, usernames in LAYERS:
            rotation = Rotation.objects.create(
                schedule=schedule,
                name=name,
                role=role,
                start_date=monday - timedelta(days=7),
                handoff_time=time(9, 0),
                shift_unit=ShiftUnit.WEEKS,
            )
            # The layer starts a week early, so this week (from Monday 09:00) is the
            # second turn and there is no gap before the first handoff.
            people = [User.objects.get(username=u) for u in usernames[1:] + usernames[:1]]
            for position, user in enumerate(people):
                RotationMember.objects.create(rotation=rotation, user=user, position=position)
