from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path

from blogllm import views
from publishing.api.errors import not_found as api_not_found

# The admin signs in through allauth, so its login has the same MFA and rate limits.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "BlogLLM administration"
admin.site.site_title = "BlogLLM admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("posts/", include("posts.urls")),
    # Before compliance/: the more specific prefix must match first.
    path("compliance/audit/", include("compliance.audit_urls")),
    path("compliance/", include("compliance.urls", namespace="compliance")),
    path("training/", include("training.urls", namespace="training")),
    path("generate/", include("generation.urls", namespace="generation")),
    path("publishing/", include("publishing.urls", namespace="publishing")),
    path("api/v1/", include("publishing.api.urls", namespace="api")),
    re_path(r"^api/", login_not_required(api_not_found)),  # other versions, typos: JSON 404
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
