"""Calendar feeds, their rotation, and the schedule report."""

from django.urls import path

from schedules import feeds, report_views

urlpatterns = [
    path("calendar/schedule/<slug:token>.ics", feeds.schedule_feed, name="schedule-feed"),
    path("calendar/user/<slug:token>.ics", feeds.user_feed, name="user-feed"),
    path(
        "groups/<int:group_id>/schedule/feed/rotate/",
        feeds.rotate_schedule_feed,
        name="schedule-feed-rotate",
    ),
    path("profile/feed/rotate/", feeds.rotate_user_feed, name="user-feed-rotate"),
    path(
        "groups/<int:group_id>/schedule/report/",
        report_views.schedule_report,
        name="schedule-report",
    ),
]
