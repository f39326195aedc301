"""Enqueue an engine ticker now, unless one already holds a live lease.

`make run` calls this before starting the q cluster, so the engine runs from
the first second instead of waiting for the one-minute watchdog.
"""

from django.core.management.base import BaseCommand

from escalation import ticker


class Command(BaseCommand):
    help = "Start the escalation engine's ticker if none is running."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Escalation engine: {ticker.watchdog()}.")
