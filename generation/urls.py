from django.urls import path

from generation import views

app_name = "generation"

urlpatterns = [
    path("", views.new, name="new"),
    path("assist/", views.assist_request, name="assist"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="cancel"),
    path("runs/<int:run_id>/stream/", views.run_stream, name="stream"),
    path("runs/<int:run_id>/inspect/", views.inspector, name="inspector"),
    path("runs/<int:run_id>/feedback/", views.run_feedback, name="feedback"),
    path("runs/<int:run_id>/proposal/", views.proposal, name="proposal"),
    path("runs/<int:run_id>/taken/", views.proposal_taken, name="taken"),
    path("voice/", views.voice, name="voice"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/experiments/", views.experiment_new, name="experiment_start"),
    path("dashboard/blocked-words/", views.blocked_word_new, name="blocked_word_add"),
    path(
        "dashboard/blocked-words/<int:word_id>/delete/",
        views.blocked_word_delete,
        name="blocked_word_delete",
    ),
    path(
        "dashboard/experiments/<int:experiment_id>/stop/",
        views.experiment_end,
        name="experiment_stop",
    ),
]
