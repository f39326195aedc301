"""The PagerDuty- and Opsgenie-compatible URLs, as ingest Endpoints.

`POST /in/<key>/` is ingest.WEBHOOK; Opsgenie's per-alert actions are built
per request (views/inbound.py), since the URL names the alert and the action.
"""

from integrations.ingest import Endpoint
from integrations.models import IntegrationKind
from integrations.parsers import opsgenie, pagerduty

PAGERDUTY = Endpoint(
    "/v2/enqueue",
    kinds=(IntegrationKind.PAGERDUTY,),
    parse=pagerduty.parse,
    key_in_body=True,
    style="pagerduty",
)
PAGERDUTY_CHANGE = Endpoint(
    "/v2/change/enqueue",
    kinds=(IntegrationKind.PAGERDUTY,),
    parse=pagerduty.parse_change,
    key_in_body=True,
    style="pagerduty",
    accepted_message="Change event processed",
)
OPSGENIE_CREATE = Endpoint(
    "/v2/alerts", kinds=(IntegrationKind.OPSGENIE,), parse=opsgenie.parse, style="opsgenie"
)
