"""Editor URLs, included into journeys/urls.py (namespace "journeys")."""

from django.urls import path

from journeys.editor import actions, views

urlpatterns = [
    path("<int:pk>/editor/", views.editor, name="editor"),
    path("<int:pk>/editor/graph/", views.graph, name="editor-graph"),
    path("<int:pk>/editor/steps/add/", views.step_add, name="editor-step-add"),
    path("<int:pk>/editor/steps/<str:key>/", views.step_panel, name="editor-step"),
    path("<int:pk>/editor/steps/<str:key>/move/", views.step_move, name="editor-step-move"),
    path("<int:pk>/editor/steps/<str:key>/remove/", views.step_remove, name="editor-step-remove"),
    path("<int:pk>/editor/edges/connect/", views.edge_connect, name="editor-edge-connect"),
    path("<int:pk>/editor/edges/remove/", views.edge_remove, name="editor-edge-remove"),
    path("<int:pk>/editor/layout/", views.layout, name="editor-layout"),
    path("<int:pk>/editor/restore/", views.restore, name="editor-restore"),
    path("<int:pk>/editor/publish/check/", actions.publish_check, name="editor-publish-check"),
    path("<int:pk>/editor/publish/", actions.publish, name="editor-publish"),
    path("<int:pk>/editor/pause/", actions.pause, name="editor-pause"),
    path("<int:pk>/editor/resume/", actions.resume, name="editor-resume"),
    path("<int:pk>/editor/archive/", actions.archive, name="editor-archive"),
    path("<int:pk>/editor/changes/", actions.changes, name="editor-changes"),
    path("<int:pk>/editor/entry/run/", actions.entry_run, name="editor-entry-run"),
    path("<int:pk>/editor/entry/dry-run/", actions.entry_dry_run_view, name="editor-entry-dry-run"),
    path("<int:pk>/editor/counts/", actions.counts, name="editor-counts"),
    path(
        "<int:pk>/editor/counts/<str:key>/<str:what>/",
        actions.count_contacts_view,
        name="editor-count-contacts",
    ),
    path("editor/pick/<str:what>/", actions.pick, name="editor-pick"),
    path("editor/template-preview/", actions.template_preview, name="editor-template-preview"),
]
