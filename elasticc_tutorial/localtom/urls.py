"""URL routes of the local TOM: desc-tom's paths (tom-fidelity §2), with their trailing slashes (or
lack of them) and its Django REST framework routes (with ``.json`` format suffixes)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework import routers
from rest_framework.urlpatterns import format_suffix_patterns

from elasticc_tutorial.localtom import views_db
from elasticc_tutorial.localtom import views_elasticc2 as e2
from elasticc_tutorial.localtom.views_common import home
from elasticc_tutorial.localtom.views_elasticc2 import drf

router = routers.SimpleRouter()
router.register("ppdbdiaobject", drf.PPDBDiaObjectViewSet)
router.register("ppdbdiasource", drf.PPDBDiaSourceViewSet)
router.register("ppdbdiaforcedsource", drf.PPDBDiaForcedSourceViewSet)
router.register(
    "ppdbdiaobjectwithsources", drf.PPDBDiaObjectWithSourcesViewSet, basename="ppdbdiaobjectws"
)
router.register(
    "ppdbdiaobjectofsource", drf.PPDBDiaObjectOfSourceViewSet, basename="ppdbdiaobjectofsource"
)

elasticc2 = [
    path("", e2.main, name="elasticc2"),
    path("adminsummary", e2.adminsummary),
    path("alertstreamhists", e2.alertstreamhists),
    path("classifiers", e2.classifiers),
    path("brokertimedelays", e2.brokertimedelays),
    path("brokercompleteness", e2.brokercompleteness),
    path("confmatrixlatest", e2.confmatrixlatest),
    path("classids", e2.classids),
    path("classifiers_json", e2.classifiers_json),
    path(
        "brokerclassfortruetype/<str:dataformat>/<str:what>/<int:classifier_id>/<int:classid>/",
        e2.brokerclassfortruetype,
    ),
    path("brokermessage/", e2.brokermessage),
    path("brokermessage/<int:info>/", e2.brokermessage),
    path("brokermessage/<path:info>/", e2.brokermessage),
    path("getalert", e2.getalert),
    path("ltcv", e2.ltcv),
    path("ltcvfeatures", e2.ltcvfeatures),
    path("gethottransients", e2.gethottransients),
    path("askforspectrum", e2.askforspectrum),
    path("spectrawanted", e2.spectrawanted),
    path("planspectrum", e2.planspectrum),
    path("removespectrumplan", e2.removespectrumplan),
    path("reportspectruminfo", e2.reportspectruminfo),
    path("getknownspectruminfo", e2.getknownspectruminfo),
    *format_suffix_patterns(router.urls),
]

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("db/runsqlquery/", views_db.runsqlquery),
    path("db/submitsqlquery/", views_db.submitsqlquery),
    path("db/checksqlquery/<str:queryid>/", views_db.checksqlquery),
    path("db/getsqlqueryresults/<str:queryid>/", views_db.getsqlqueryresults),
    path("elasticc2/", include(elasticc2)),
]
