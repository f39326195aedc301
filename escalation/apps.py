from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = "Alerts and escalation"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from escalation.models import EscalationStep

        def step_changed(sender, instance, **kwargs) -> None:
            instance.policy.touch()

        post_save.connect(step_changed, sender=EscalationStep, dispatch_uid="step_saved")
        post_delete.connect(step_changed, sender=EscalationStep, dispatch_uid="step_deleted")

        def step_users_changed(sender, instance, action, **kwargs) -> None:
            if action in ("post_add", "post_remove", "post_clear"):
                instance.policy.touch()

        m2m_changed.connect(
            step_users_changed, sender=EscalationStep.users.through, dispatch_uid="step_users"
        )
