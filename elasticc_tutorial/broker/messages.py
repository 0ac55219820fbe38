"""brokerClassification messages: built from an alert and a probability row, encoded with the real schema.

The schema is the package's ``elasticc.v0_9_1.brokerClassification`` (the record is spelled
``brokerClassfication``, as in the original). Timestamps are milliseconds since the epoch, which is
both what fastavro writes for ``timestamp-millis`` and what the TOM's ``elasticc2/brokermessage/``
route expects in its JSON body, so one message dict serves the Avro stream and the REST push.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

import fastavro
import fastavro.validation
import numpy as np

from elasticc_tutorial.errors import AlertsError
from elasticc_tutorial.schema import load_schema, read_record

__all__ = ["BrokerIdentity", "decode_message", "encode_message", "make_message"]


@dataclass(frozen=True)
class BrokerIdentity:
    """Who is classifying: the TOM files messages under (broker, version, classifier, params)."""

    broker_name: str = "TutorialBroker"
    broker_version: str = "1.0"
    classifier_name: str = "TutorialBoostedTrees 1.0"
    classifier_params: str = ""


def _probabilities(classes: Sequence[int], probs: np.ndarray) -> list[dict]:
    """``classificationDict`` entries: float32 values that sum to 1 (rounding goes to the top class)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (len(classes),) or not np.all(np.isfinite(p)) or (p < 0).any() or p.sum() <= 0:
        raise ValueError(
            f"probabilities must be {len(classes)} finite non-negative numbers with a positive sum"
        )
    p32 = (p / p.sum()).astype(np.float32)
    top = int(np.argmax(p32))
    p32[top] = np.float32(1.0 - (p32.sum(dtype=np.float64) - p32[top]))
    return [{"classId": int(c), "probability": float(v)} for c, v in zip(classes, p32, strict=True)]


def make_message(
    alert: dict,
    classes: Sequence[int],
    probabilities: np.ndarray,
    *,
    publish_ms: int,
    ingest_ms: int | None = None,
    identity: BrokerIdentity = BrokerIdentity(),
) -> dict:
    """The brokerClassification dict answering ``alert``.

    ``publish_ms`` is when ELAsTiCC published the alert (ms since the epoch; the alert tars record it
    as the member's time); ``ingest_ms`` when the broker read it (default: now).
    """
    message = {
        "alertId": int(alert["alertId"]),
        "diaSourceId": int(alert["diaSource"]["diaSourceId"]),
        "elasticcPublishTimestamp": int(publish_ms),
        "brokerIngestTimestamp": int(ingest_ms if ingest_ms is not None else time.time() * 1000),
        "brokerName": identity.broker_name,
        "brokerVersion": identity.broker_version,
        "classifierName": identity.classifier_name,
        "classifierParams": identity.classifier_params,
        "classifications": _probabilities(classes, probabilities),
    }
    fastavro.validation.validate(message, load_schema("brokerClassification"), raise_errors=True)
    return message


def encode_message(message: dict) -> bytes:
    """One schemaless Avro record (as brokers published them to Kafka)."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, load_schema("brokerClassification"), message)
    return buf.getvalue()


def decode_message(data: bytes) -> dict:
    """The inverse of :func:`encode_message` (timestamps come back as UTC datetimes); raises
    :class:`~elasticc_tutorial.errors.AlertsError` for bytes that are not exactly one message."""
    fo = io.BytesIO(data)
    try:
        message = read_record(fo, load_schema("brokerClassification"))
    except (EOFError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise AlertsError(f"not a schemaless brokerClassification message ({exc!r})") from None
    if fo.tell() != len(data):
        raise AlertsError(
            f"{len(data) - fo.tell()} bytes left after one brokerClassification message"
        )
    return message
