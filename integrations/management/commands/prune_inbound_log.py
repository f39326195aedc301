from django.core.management.base import BaseCommand

from integrations import retention


class Command(BaseCommand):
    help = "Delete inbound log rows older than INBOUND_LOG_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days instead.")

    def handle(self, *args, days: int | None = None, **options) -> None:
        removed = retention.prune(days=days)
        self.stdout.write(f"Removed {removed} inbound log row(s).")
