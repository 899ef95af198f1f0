"""Admin pages for keys (filled in by the keys UI work)."""

app_name = "keys"

urlpatterns: list = []
