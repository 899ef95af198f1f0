"""Admin pages for webhooks (filled in by the webhooks UI work)."""

app_name = "webhooks"

urlpatterns: list = []
