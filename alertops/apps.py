from django.apps import AppConfig, apps


class AlertOpsConfig(AppConfig):
    name = "alertops"
    verbose_name = "AlertOps"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from alertops import checks, qcluster

        checks.register()
        # After django_q's own migrations: post_migrate is sent only for apps
        # with models, and this app has none.
        post_migrate.connect(
            qcluster.ensure_schedules,
            sender=apps.get_app_config("django_q"),
            dispatch_uid="alertops.ensure_schedules",
        )
