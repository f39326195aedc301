from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from alertops.api import api
from escalation.views import dashboard, responder
from integrations import views as integration_views

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("alerts/rows/", dashboard.alert_rows, name="alert-rows"),
    path("alerts/<int:alert_id>/", dashboard.alert_detail, name="alert-detail"),
    path("alerts/<int:alert_id>/<str:action>/", dashboard.alert_action, name="alert-action"),
    path("outbox/", dashboard.outbox, name="outbox"),
    path("r/<str:token>/", responder.page, name="responder"),
    path("in/<str:key>/", integration_views.inbound, name="inbound"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
