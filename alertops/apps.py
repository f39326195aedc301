from django.apps import AppConfig


class AlertOpsConfig(AppConfig):
    name = "alertops"
    verbose_name = "AlertOps"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from alertops import checks, qcluster

        checks.register()
        post_migrate.connect(qcluster.ensure_schedules, sender=self)
