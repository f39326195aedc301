"""URLs of inbound email: anymail's ESP webhooks (/anymail/<esp>/inbound/), the
raw-MIME endpoint, and the form of an email integration's rules."""

from django.urls import include, path, re_path

from integrations.email import views

urlpatterns = [
    path("anymail/", include("anymail.urls")),
    path("inbound/email/", views.raw_email, name="inbound-email"),
    re_path(r"^inbound/email$", views.raw_email),  # mail servers join URLs their own way
    path(
        "integrations/<int:integration_id>/email-rules/",
        views.email_rules,
        name="integration-email-rules",
    ),
]
