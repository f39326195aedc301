"""URLs of the outbound pages."""

from django.urls import path

from integrations.outbound import views

urlpatterns = [
    path("integrations/outbound/", views.webhook_list, name="outbound-list"),
    path("integrations/outbound/new/", views.webhook_new, name="outbound-new"),
    path("integrations/outbound/<int:webhook_id>/", views.webhook_detail, name="outbound-detail"),
    path("integrations/outbound/<int:webhook_id>/edit/", views.webhook_edit, name="outbound-edit"),
    path("integrations/outbound/<int:webhook_id>/test/", views.webhook_test, name="outbound-test"),
    path(
        "integrations/outbound/<int:webhook_id>/secret/",
        views.webhook_secret,
        name="outbound-secret",
    ),
    path(
        "integrations/outbound/<int:webhook_id>/delete/",
        views.webhook_delete,
        name="outbound-delete",
    ),
    path(
        "integrations/outbound/<int:webhook_id>/deliveries/<int:delivery_id>/retry/",
        views.delivery_retry,
        name="outbound-delivery-retry",
    ),
]
