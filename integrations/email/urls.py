"""URLs of the email pages."""

urlpatterns: list = []
