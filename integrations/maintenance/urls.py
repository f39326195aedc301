"""URLs of the maintenance windows page."""

from django.urls import path

from integrations.maintenance import views

urlpatterns = [
    path("integrations/maintenance/", views.window_list, name="maintenance-list"),
    path("integrations/maintenance/<int:window_id>/end/", views.window_end, name="maintenance-end"),
    path(
        "integrations/maintenance/<int:window_id>/delete/",
        views.window_delete,
        name="maintenance-delete",
    ),
]
