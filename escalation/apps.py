from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = "Alerts and escalation"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from escalation.models import EscalationStep

        def step_changed(sender, instance, **kwargs) -> None:
            instance.policy.touch()

        post_save.connect(step_changed, sender=EscalationStep, dispatch_uid="step_saved")
        post_delete.connect(step_changed, sender=EscalationStep, dispatch_uid="step_deleted")
