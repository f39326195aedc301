from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Connects the signals that raise rules_version on every rule change,
        # wherever the change is made (admin, shell, pages).
        from integrations import routing  # noqa: F401

        # Alert events to outbound webhooks; inbound mail from anymail's ESP webhooks.
        from integrations.email import receivers as email_receivers  # noqa: F401
        from integrations.outbound import receivers as outbound_receivers  # noqa: F401
