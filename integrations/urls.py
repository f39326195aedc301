"""Integration pages, and the URLs tools send to.

The tools' paths work with or without a trailing slash: clients differ in
how they join a base URL and a path.
"""

from django.urls import include, path, re_path

from integrations.views import inbound, pages

urlpatterns = [
    path("", include("integrations.email.urls")),
    path("", include("integrations.outbound.urls")),
    path("", include("integrations.maintenance.urls")),
    path("integrations/", pages.integration_list, name="integration-list"),
    path("integrations/new/", pages.integration_new, name="integration-new"),
    path("integrations/log/", pages.inbound_log, name="inbound-log"),
    path("integrations/log/<int:event_id>/", pages.inbound_event, name="inbound-event"),
    path("integrations/<int:integration_id>/", pages.integration_detail, name="integration-detail"),
    path(
        "integrations/<int:integration_id>/settings/",
        pages.integration_settings,
        name="integration-settings",
    ),
    path(
        "integrations/<int:integration_id>/test/", pages.integration_test, name="integration-test"
    ),
    path(
        "integrations/<int:integration_id>/rotate/",
        pages.integration_rotate,
        name="integration-rotate",
    ),
    path(
        "integrations/<int:integration_id>/mapping/",
        pages.integration_mapping,
        name="integration-mapping",
    ),
    path("integrations/<int:integration_id>/rules/", pages.rule_add, name="routing-rule-add"),
    re_path(
        r"^integrations/(?P<integration_id>[0-9]+)/rules/(?P<rule_id>[0-9]+)/(?P<change>up|down|delete)/$",
        pages.rule_change,
        name="routing-rule-change",
    ),
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
        r"^v2/alerts/(?P<identifier>.+?)/(?P<action>acknowledge|close|notes)/?$",
        inbound.opsgenie_action,
        name="opsgenie-action",
    ),
]
