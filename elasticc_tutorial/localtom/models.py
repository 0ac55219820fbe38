"""Django models of the local TOM.

``QueryQueue`` is the local TOM's own state: like Django's auth, session and migration tables it lives
in the schema :data:`LOCAL_SCHEMA` (the ``default`` connection's ``search_path``), never in ``public``.
The ``elasticc2_*`` models are unmanaged views of the TOM tables that
:mod:`elasticc_tutorial.sample.db` creates (or that a real TOM database already has); they are read
through the ``tom`` connection (see :class:`TomRouter`) by the Django REST framework routes.
Field order is the real TOM's model order, which the REST framework serialises (``isddf`` second).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from elasticc_tutorial.localtom.conf import LOCAL_SCHEMA, TOM_DB
from elasticc_tutorial.sample.dbschema import host_columns

__all__ = ["LOCAL_SCHEMA", "TOM_DB", "PPDBDiaForcedSource", "PPDBDiaObject", "PPDBDiaSource"]


class QueryQueue(models.Model):
    """A long SQL query: the real TOM's ``db_queryqueue`` plus an owner (results are owner-only)."""

    queryid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    submitted = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True)
    finished = models.DateTimeField(null=True)
    error = models.BooleanField(default=False)
    errortext = models.TextField(null=True)
    queries = ArrayField(models.TextField())
    subdicts = ArrayField(models.JSONField())
    format = models.TextField(default="csv")
    columns = models.JSONField(null=True)  # [{"name", "type"}] of the result (an extension)
    nrows = models.BigIntegerField(null=True)

    class Meta:
        db_table = "db_queryqueue"
        indexes = [models.Index(fields=["submitted"])]  # noqa: RUF012 (Django API)


def _real() -> models.FloatField:
    return models.FloatField(null=True)


class _DiaObjectBase(models.Model):
    diaobject_id = models.BigIntegerField(primary_key=True)
    isddf = models.BooleanField(default=False)
    simversion = models.TextField(null=True)
    ra = models.FloatField()
    decl = models.FloatField()
    mwebv = _real()
    mwebv_err = _real()
    z_final = _real()
    z_final_err = _real()
    locals().update({c: _real() for c in host_columns("hostgal") + host_columns("hostgal2")})

    class Meta:
        abstract = True


class PPDBDiaObject(_DiaObjectBase):
    class Meta:
        managed = False
        db_table = "elasticc2_ppdbdiaobject"


class PPDBDiaSource(models.Model):
    diasource_id = models.BigIntegerField(primary_key=True)
    midpointtai = models.FloatField()
    filtername = models.TextField()
    ra = models.FloatField()
    decl = models.FloatField()
    psflux = models.FloatField()
    psfluxerr = models.FloatField()
    snr = models.FloatField()
    diaobject = models.ForeignKey(
        PPDBDiaObject, db_column="diaobject_id", null=True, on_delete=models.DO_NOTHING
    )

    class Meta:
        managed = False
        db_table = "elasticc2_ppdbdiasource"


class PPDBDiaForcedSource(models.Model):
    diaforcedsource_id = models.BigIntegerField(primary_key=True)
    midpointtai = models.FloatField()
    filtername = models.TextField()
    psflux = models.FloatField()
    psfluxerr = models.FloatField()
    diaobject = models.ForeignKey(
        PPDBDiaObject, db_column="diaobject_id", on_delete=models.DO_NOTHING
    )

    class Meta:
        managed = False
        db_table = "elasticc2_ppdbdiaforcedsource"


class TomRouter:
    """``elasticc2_*`` models use the ``tom`` connection and are never migrated; the rest (auth,
    sessions, the query queue) use ``default``, whose search_path is the local schema only."""

    @staticmethod
    def _is_tom(model_or_instance) -> bool:
        return model_or_instance._meta.db_table.startswith("elasticc2_")

    def db_for_read(self, model, **hints):
        return TOM_DB if self._is_tom(model) else "default"

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return self._is_tom(obj1) == self._is_tom(obj2)  # (instances may be lazy proxies)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
