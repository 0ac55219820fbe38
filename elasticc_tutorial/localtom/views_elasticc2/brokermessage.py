"""``elasticc2/brokermessage/`` (tom-fidelity §3.10): brokers PUT their classifications.

PUT is for the ``apibroker`` account or superusers (CSRF applies, as on desc-tom); GET and POST fail
with a server error, as desc-tom's ``get_queryset`` raises "This is broken".
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from elasticc_tutorial.localtom.accounts import BROKER_USER
from elasticc_tutorial.localtom.conf import TOM_DB
from elasticc_tutorial.localtom.views_common import text_response
from elasticc_tutorial.localtom.views_elasticc2.common import json_response, rows, tom_view


def _ms(value: Any) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(value) / 1000.0, datetime.UTC)


def _classifier_id(msg: dict, cache: dict, now: datetime.datetime) -> int:
    key = (msg["brokerName"], msg["brokerVersion"], msg["classifierName"], msg["classifierParams"])
    if key not in cache:
        found = rows(
            "SELECT classifier_id FROM elasticc2_brokerclassifier WHERE brokername = %s "
            "AND brokerversion IS NOT DISTINCT FROM %s AND classifiername = %s "
            "AND classifierparams IS NOT DISTINCT FROM %s ORDER BY classifier_id LIMIT 1",
            list(key),
        )
        if not found:
            found = rows(
                "INSERT INTO elasticc2_brokerclassifier (brokername, brokerversion, "
                "classifiername, classifierparams, modified) VALUES (%s, %s, %s, %s, %s) "
                "RETURNING classifier_id",
                [*key, now],
            )
        cache[key] = found[0]["classifier_id"]
    return cache[key]


def _load(messages: list[dict]) -> tuple[int, int]:
    """Insert the messages (one per classifier and alert); return (first new id or -1, count)."""
    now = datetime.datetime.now(datetime.UTC)
    cache: dict = {}
    seen, values = set(), []
    for msg in messages:
        cid = _classifier_id(msg, cache, now)
        if (cid, msg["alertId"]) in seen:
            continue
        seen.add((cid, msg["alertId"]))
        cls = [int(c["classId"]) for c in msg["classifications"]]
        prob = [float(c["probability"]) for c in msg["classifications"]]
        hdr = msg.get("brokerPublishTimestamp")
        values.append(
            [
                -1,
                "REST_push",
                msg["alertId"],
                msg["diaSourceId"],
                _ms(hdr) if hdr is not None else None,
                now,
                _ms(msg["elasticcPublishTimestamp"]),
                _ms(msg["brokerIngestTimestamp"]),
                cls,
                cid,
                prob,
            ]
        )
    ids = []
    for v in values:
        ids += rows(
            "INSERT INTO elasticc2_brokermessage (streammessage_id, topicname, alert_id, "
            "diasource_id, msghdrtimestamp, descingesttimestamp, elasticcpublishtimestamp, "
            "brokeringesttimestamp, classid, classifier_id, probability) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::smallint[], %s, %s::real[]) "
            "RETURNING brokermessage_id",
            v,
        )
    for sid in sorted({v[3] for v in values}):
        rows(
            "INSERT INTO elasticc2_brokersourceids (diasource_id) VALUES (%s) "
            "ON CONFLICT DO NOTHING",
            [sid],
        )
    return (ids[0]["brokermessage_id"] if ids else -1), len(ids)


@tom_view(["GET", "POST", "PUT"])
def brokermessage(request: HttpRequest, info: Any = None) -> HttpResponse:
    """PUT one brokerClassification dict or a list of them: 201 ``{brokerMessageId, num_loaded}``."""
    if request.method != "PUT":
        return text_response(
            "Server Error (500): This is broken, fix for new BrokerMessage structure.", 500
        )
    if not (request.user.username == BROKER_USER or request.user.is_superuser):
        return text_response("403 Forbidden", 403)
    try:
        data = json.loads(request.body)
        messages = data if isinstance(data, list) else [data]
        if not messages:
            raise ValueError("no messages")
        with transaction.atomic(using=TOM_DB):
            first, num = _load(messages)
    except Exception as exc:  # desc-tom: an uncaught exception, a bare 500
        return text_response(f"Server Error (500): {type(exc).__name__}: {exc}", 500)
    resp = json_response({"brokerMessageId": first, "num_loaded": num}, status=201)
    base = request.build_absolute_uri(request.path)
    resp["Location"] = (base if base.endswith("/") else base + "/") + str(first)
    return resp
