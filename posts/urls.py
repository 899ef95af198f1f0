from django.urls import path

from posts import views

app_name = "posts"

urlpatterns = [
    path("", views.post_list, name="list"),
    path("new/", views.post_new, name="new"),
    path("preview/", views.post_preview, name="preview"),
    path("search/", views.search, name="search"),
    path("import/", views.import_posts, name="import"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("corpus/", views.corpus_overview, name="corpus"),
    path("<int:post_id>/", views.post_detail, name="detail"),
    path("<int:post_id>/edit/", views.post_edit, name="edit"),
    path("<int:post_id>/autosave/", views.post_autosave, name="autosave"),
    path("<int:post_id>/review/", views.post_review, name="review"),
    path("<int:post_id>/revisions/<int:version>/", views.revision_detail, name="revision"),
    path("<int:post_id>/<str:action>/", views.post_action, name="action"),
]
