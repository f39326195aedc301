"""Schedule pages, under each group."""

from django.urls import path

from schedules.views import edit, pages

urlpatterns = [
    path("groups/<int:group_id>/schedule/", pages.schedule_page, name="schedule"),
    path(
        "groups/<int:group_id>/schedule/settings/",
        pages.schedule_settings,
        name="schedule-settings",
    ),
    path("groups/<int:group_id>/schedule/layers/new/", edit.layer_edit, name="layer-new"),
    path(
        "groups/<int:group_id>/schedule/layers/<int:rotation_id>/",
        edit.layer_edit,
        name="layer-edit",
    ),
    path(
        "groups/<int:group_id>/schedule/layers/<int:rotation_id>/delete/",
        edit.layer_delete,
        name="layer-delete",
    ),
    path("groups/<int:group_id>/schedule/overrides/new/", edit.override_edit, name="override-new"),
    path(
        "groups/<int:group_id>/schedule/overrides/<int:override_id>/",
        edit.override_edit,
        name="override-edit",
    ),
    path(
        "groups/<int:group_id>/schedule/overrides/<int:override_id>/delete/",
        edit.override_delete,
        name="override-delete",
    ),
    path("groups/<int:group_id>/schedule/take/", edit.take_shift, name="take-shift"),
]
