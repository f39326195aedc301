"""The URLs tools send to. Paths with or without a trailing slash both work:
clients differ in how they join a base URL and a path."""

from django.urls import re_path

from integrations.views import inbound

urlpatterns = [
    re_path(r"^in/(?P<key>[^/]+)/?$", inbound.inbound, name="inbound"),
    re_path(r"^v2/enqueue/?$", inbound.pagerduty_enqueue, name="pagerduty-enqueue"),
    re_path(r"^v2/change/enqueue/?$", inbound.pagerduty_change, name="pagerduty-change"),
    re_path(r"^v2/alerts/?$", inbound.opsgenie_create, name="opsgenie-create"),
    re_path(
        r"^v2/alerts/requests/(?P<request_id>[^/]+)/?$",
        inbound.opsgenie_request_status,
        name="opsgenie-request-status",
    ),
    re_path(
        r"^v2/alerts/(?P<identifier>[^/]+)/(?P<action>acknowledge|close|notes)/?$",
        inbound.opsgenie_action,
        name="opsgenie-action",
    ),
]
