from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views
from alertops.api import api
from alertops.health import healthz
from escalation.views import dashboard, groups, policies, responder, selftest

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("alerts/rows/", dashboard.alert_rows, name="alert-rows"),
    path("alerts/<int:alert_id>/", dashboard.alert_detail, name="alert-detail"),
    path("alerts/<int:alert_id>/<str:action>/", dashboard.alert_action, name="alert-action"),
    path("outbox/", dashboard.outbox, name="outbox"),
    path("policies/", policies.policy_list, name="policy-list"),
    path("policies/new/", policies.policy_new, name="policy-new"),
    path("policies/<int:policy_id>/", policies.policy_detail, name="policy-detail"),
    path("policies/<int:policy_id>/delete/", policies.policy_delete, name="policy-delete"),
    path("groups/", groups.group_list, name="group-list"),
    path("groups/<int:group_id>/", groups.group_detail, name="group-detail"),
    path("", include("schedules.urls")),
    path("profile/", account_views.profile, name="profile"),
    path("profile/contacts/", account_views.contact_add, name="contact-add"),
    path(
        "profile/contacts/<int:contact_id>/delete/",
        account_views.contact_delete,
        name="contact-delete",
    ),
    path("profile/rules/customise/", account_views.rules_customise, name="rules-customise"),
    path("profile/rules/<str:urgency>/", account_views.rule_add, name="rule-add"),
    path("profile/rules/<int:rule_id>/delete/", account_views.rule_delete, name="rule-delete"),
    path("profile/test-page/", selftest.test_page, name="profile-test-page"),
    path("r/<str:token>/", responder.page, name="responder"),
    path("", include("integrations.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("schedules.feed_urls")),
]
