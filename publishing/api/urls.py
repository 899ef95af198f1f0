"""/api/v1/: the endpoints, the OpenAPI schema and its docs page. The API signs in by key, so
Django's login-required middleware lets all of it through (login_not_required)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from publishing.api import drafts, read
from publishing.api.errors import not_found

app_name = "api"


def _open(view: type, **initkwargs: object):  # noqa: ANN202
    return login_not_required(view.as_view(**initkwargs))


urlpatterns = [
    path("posts/", _open(read.PostListApi), name="post-list"),
    path("posts/<slug:slug>/", _open(read.PostDetailApi), name="post-detail"),
    path("tags/", _open(read.TagListApi), name="tag-list"),
    path("authors/", _open(read.AuthorListApi), name="author-list"),
    path("drafts/", _open(drafts.DraftCreateApi), name="draft-list"),
    path("drafts/<int:post_id>/", _open(drafts.DraftDetailApi), name="draft-detail"),
    path("drafts/<int:post_id>/submit/", _open(drafts.DraftSubmitApi), name="draft-submit"),
    path("schema/", _open(SpectacularAPIView), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script for the CSP.
    path("docs/", _open(SpectacularSwaggerSplitView, url_name="api:schema"), name="docs"),
    re_path(r"^.*$", login_not_required(not_found)),
]
