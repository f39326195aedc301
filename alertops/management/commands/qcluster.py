"""`manage.py qcluster`, starting the escalation engine with the cluster.

The same as django-q2's command, except that it first makes sure the
standing schedules exist (the engine's watchdog among them) and enqueues an
engine ticker. After a crash the new ticker takes over as soon as the dead one's
lease expires (seconds), instead of waiting for the one-minute watchdog.
"""

from django_q.management.commands.qcluster import Command as QClusterCommand

from alertops import qcluster
from escalation import ticker


class Command(QClusterCommand):
    def handle(self, *args, **options) -> None:
        qcluster.ensure_schedules()
        ticker.start_ticker()
        super().handle(*args, **options)
