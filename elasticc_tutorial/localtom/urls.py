"""URL routes of the local TOM: the real TOM's paths, with their trailing slashes (or lack of them)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from elasticc_tutorial.localtom import views_db, views_elasticc2
from elasticc_tutorial.localtom.views_common import home

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("db/runsqlquery/", views_db.runsqlquery),
    path("db/submitsqlquery/", views_db.submitsqlquery),
    path("db/checksqlquery/<str:queryid>/", views_db.checksqlquery),
    path("db/getsqlqueryresults/<str:queryid>/", views_db.getsqlqueryresults),
    path("elasticc2/classids", views_elasticc2.classids),
    path("elasticc2/classifiers_json", views_elasticc2.classifiers_json),
    path("elasticc2/ltcv", views_elasticc2.ltcv),
    path("elasticc2/gethottransients", views_elasticc2.gethottransients),
    path("elasticc2/getalert", views_elasticc2.getalert),
    path(
        "elasticc2/brokerclassfortruetype/<str:dataformat>/<str:what>/<int:classifier_id>/<int:classid>/",
        views_elasticc2.brokerclassfortruetype,
    ),
    path("elasticc2/ppdbdiaobject/", views_elasticc2.ppdbdiaobject),
    path("elasticc2/ppdbdiaobject/<int:pk>/", views_elasticc2.ppdbdiaobject),
]
