from django.urls import path

from publishing import views

app_name = "publishing"

urlpatterns = [
    path("keys/", views.api_keys, name="api_keys"),
    path("keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.webhook, name="webhook"),
    path("webhooks/<int:endpoint_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:endpoint_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path(
        "webhooks/deliveries/<int:delivery_id>/redeliver/",
        views.webhook_redeliver_view,
        name="webhook_redeliver",
    ),
]
