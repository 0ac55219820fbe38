"""The Django REST framework routes (tom-fidelity §3.9): read-only viewsets over the PPDB tables,
with desc-tom's serializers (every model field in model order: ``isddf`` second, the foreign key as
``diaobject``), LimitOffsetPagination (default 100, no maximum, no ordering), Token/Basic/Session
authentication and 401/403/404 JSON.
"""

from __future__ import annotations

from django.http import Http404
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from elasticc_tutorial.localtom.models import PPDBDiaForcedSource, PPDBDiaObject, PPDBDiaSource


def exception_handler(exc, context):
    """DRF's handler, with the 404 text of desc-tom's DRF version ("Not found.")."""
    response = drf_exception_handler(exc, context)
    if isinstance(exc, Http404) and response is not None:
        response.data = {"detail": "Not found."}
    return response


class PPDBDiaObjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = PPDBDiaObject
        fields = "__all__"


class PPDBDiaSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = PPDBDiaSource
        fields = "__all__"


class PPDBDiaForcedSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = PPDBDiaForcedSource
        fields = "__all__"


class PPDBDiaObjectViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PPDBDiaObject.objects.all()
    serializer_class = PPDBDiaObjectSerializer


class PPDBDiaSourceViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PPDBDiaSource.objects.all()
    serializer_class = PPDBDiaSourceSerializer


class PPDBDiaForcedSourceViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PPDBDiaForcedSource.objects.all()
    serializer_class = PPDBDiaForcedSourceSerializer


def _with_sources(obj: PPDBDiaObject, tmax: float | None) -> dict:
    """The object's fields plus ``diasources`` and ``diaforcedsources`` (up to ``tmax``)."""
    src = PPDBDiaSource.objects.filter(diaobject_id=obj.diaobject_id)
    forced = PPDBDiaForcedSource.objects.filter(diaobject_id=obj.diaobject_id)
    if tmax is not None:
        src, forced = src.filter(midpointtai__lte=tmax), forced.filter(midpointtai__lte=tmax)
    return {
        **PPDBDiaObjectSerializer(obj).data,
        "diasources": PPDBDiaSourceSerializer(src, many=True).data,
        "diaforcedsources": PPDBDiaForcedSourceSerializer(forced, many=True).data,
    }


class PPDBDiaObjectWithSourcesViewSet(viewsets.ViewSet):
    """``ppdbdiaobjectwithsources/<objectid>/``: the object with all its sources."""

    def list(self, request):
        return Response("Must give an object id", status=400)

    def retrieve(self, request, pk=None):
        pk = int(pk)  # a non-numeric id is a server error, as on desc-tom
        try:
            obj = PPDBDiaObject.objects.get(pk=pk)
        except PPDBDiaObject.DoesNotExist:
            raise Http404 from None
        return Response(_with_sources(obj, None))


class PPDBDiaObjectOfSourceViewSet(viewsets.ViewSet):
    """``ppdbdiaobjectofsource/<sourceid>/``: the source's object with the sources and forced
    sources up to that source's time (the source itself included)."""

    def list(self, request):
        return Response("Must give a source id", status=400)

    def retrieve(self, request, pk=None):
        pk = int(pk)
        try:
            src = PPDBDiaSource.objects.select_related("diaobject").get(pk=pk)
        except PPDBDiaSource.DoesNotExist:
            raise Http404 from None
        return Response(_with_sources(src.diaobject, src.midpointtai))
