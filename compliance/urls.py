from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("notes/", views.queue, name="queue"),
    path("notes/new/", views.note_new, name="new"),
    path("notes/batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("notes/<uuid:uid>/", views.note_review, name="review"),
    path("notes/<uuid:uid>/mark/", views.note_mark, name="mark"),
    path(
        "notes/<uuid:uid>/findings/<int:finding_id>/unmark/",
        views.finding_unmark,
        name="unmark",
    ),
    path(
        "notes/<uuid:uid>/suspects/<int:suspect_id>/<str:action>/",
        views.suspect_check,
        name="suspect",
    ),
    path("notes/<uuid:uid>/<str:action>/", views.note_decide, name="decide"),
]
