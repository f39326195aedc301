"""URLs of the outbound pages."""

urlpatterns: list = []
