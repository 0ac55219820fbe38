"""Django models of the local TOM: only the long-query queue.

The ``elasticc2_*`` tables belong to the sample database (created by ``elasticc_tutorial.sample.db``);
the views read them with raw SQL through the read-only role, so they are not defined here again.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


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
