from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("", views.runs, name="runs"),
    path("preview/", views.preview, name="preview"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("runs/<int:run_id>/resume/", views.run_resume, name="resume"),
    path("models/", views.versions, name="versions"),
    path("models/<int:version_id>/", views.version_detail, name="version"),
    path("models/<int:version_id>/promote/", views.version_promote, name="promote"),
    path("models/<int:version_id>/archive/", views.version_archive, name="archive"),
    path("models/<int:version_id>/evaluate/", views.version_evaluate, name="evaluate"),
    path("models/<int:version_id>/quality/", views.version_quality, name="quality"),
    path("models/<int:version_id>/bias/", views.version_bias, name="bias"),
    path("models/<int:version_id>/card/", views.version_card, name="card"),
    path("models/<slug:channel>/retraining/", views.retrain_policy, name="retrain_policy"),
    path("models/<slug:channel>/drift/", views.drift, name="drift"),
    path("models/<slug:channel>/rollback/", views.rollback, name="rollback"),
]
