"""The integrations app's models, one module per concept."""

from integrations.models.inbound import (
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    GRAFANA_SIGNATURE_HEADER,
    ChangeEvent,
    InboundEvent,
    Integration,
    IntegrationKind,
    MatchOperator,
    Outcome,
    RoutingRule,
)
from integrations.models.maintenance import MaintenanceWindow, Repeat
from integrations.models.outbound import (
    DeliveryStatus,
    OutboundWebhook,
    WebhookDelivery,
    WebhookEvent,
)

__all__ = [
    "DEFAULT_RATE_LIMIT_PER_MINUTE",
    "GRAFANA_SIGNATURE_HEADER",
    "ChangeEvent",
    "DeliveryStatus",
    "InboundEvent",
    "Integration",
    "IntegrationKind",
    "MaintenanceWindow",
    "MatchOperator",
    "OutboundWebhook",
    "Outcome",
    "Repeat",
    "RoutingRule",
    "WebhookDelivery",
    "WebhookEvent",
]
