"""Load the demo data (idempotent) and print how to reach it."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Channel, ContactMethod, PlatformRole, User
from escalation.models import EscalationPolicy, EscalationStep, StepTarget
from groups.models import Group, Membership
from integrations.models import Integration, IntegrationKind

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
INTEGRATIONS = [
    ("Prometheus Alertmanager", IntegrationKind.ALERTMANAGER),
    ("Generic webhook", IntegrationKind.WEBHOOK),
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
            out.write(f"{integration.name + ':':<26}{base}{integration.url_path}")
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
        return [
            Integration.objects.get_or_create(name=name, kind=kind, defaults={"group": group})[0]
            for name, kind in INTEGRATIONS
        ]
