"""The alert stream night by night, and a broker that answers every alert from its own history only.

:func:`iter_nights` replays the alert tars (``ELASTICC2_ALERTS/<mjd>.tar``) one night at a time, with
each alert's publish time (the tar member's time, which the sample writes as the alert's send time;
real ELAsTiCC brokers read it from the Kafka message). :class:`Broker` turns a batch of alerts into
features (:func:`~elasticc_tutorial.broker.features.features` of each alert's own history), class
probabilities and brokerClassification messages.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from elasticc_tutorial import alerts as alert_files
from elasticc_tutorial.broker.features import (
    History,
    feature_matrix,
    features,
    history_from_alert,
)
from elasticc_tutorial.broker.messages import BrokerIdentity, make_message
from elasticc_tutorial.broker.train import BrokerModel
from elasticc_tutorial.schema import load_schema, read_record

__all__ = ["Broker", "Night", "iter_nights"]


@dataclass
class Night:
    """The alerts of one night's tar, in tar order, and when each was published (ms since epoch)."""

    mjd: int
    alerts: list[dict]
    publish_ms: np.ndarray


def _read_night(tar_path: Path, schema: dict) -> tuple[list[dict], list[int]]:
    decoded: list[dict] = []
    published: list[int] = []
    try:
        with tarfile.open(tar_path, mode="r|*") as tar:
            for member in tar:
                if not (member.isfile() and member.name.endswith(".avro")):
                    continue
                fh = tar.extractfile(member)
                assert fh is not None
                fo = io.BytesIO(fh.read())
                where = f"{tar_path}: member {member.name}"
                try:
                    decoded.append(read_record(fo, schema))
                except (EOFError, ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
                    raise alert_files.AlertFormatError(f"{where}: not an alert ({exc!r})") from None
                if fo.tell() != len(fo.getbuffer()):
                    raise alert_files.AlertFormatError(f"{where}: bytes left after one alert")
                published.append(int(member.mtime) * 1000)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise alert_files.AlertFormatError(
            f"{tar_path}: truncated or corrupt tar ({exc})"
        ) from None
    return decoded, published


def iter_nights(
    source: alert_files.Source, first_night: int | None = None, last_night: int | None = None
) -> Iterator[Night]:
    """Replay the alert tars of ``source`` (a directory, tar or list of tars) one night at a time."""
    schema = load_schema("alert")
    for tar_path in alert_files.night_tars(source, first_night, last_night):
        decoded, published = _read_night(tar_path, schema)
        night = int(tar_path.name.split(".", 1)[0]) if tar_path.name[0].isdigit() else -1
        yield Night(night, decoded, np.asarray(published, dtype=np.int64))


@dataclass
class Broker:
    """A trained model and the identity its messages carry."""

    model: BrokerModel
    identity: BrokerIdentity = field(default_factory=BrokerIdentity)
    #: The feature function the model was trained with (:func:`training_table`'s ``feature_fn``).
    feature_fn: Callable[[History], np.ndarray] = features

    def __post_init__(self) -> None:
        if not self.identity.classifier_params:  # say what the classifier is, as real brokers did
            self.identity = BrokerIdentity(
                self.identity.broker_name,
                self.identity.broker_version,
                self.identity.classifier_name,
                self.model.description,
            )

    def features(self, alerts: Sequence[dict]) -> np.ndarray:
        """Feature rows of the alerts, each from the alert's own history."""
        return feature_matrix((history_from_alert(a) for a in alerts), self.feature_fn)

    def classify(self, alerts: Sequence[dict]) -> np.ndarray:
        """Probabilities over ``model.classes``, one row per alert."""
        return self.model.predict_proba(self.features(alerts))

    def messages(
        self,
        alerts: Sequence[dict],
        publish_ms: Sequence[int] | np.ndarray,
        *,
        ingest_ms: Sequence[int] | np.ndarray | None = None,
    ) -> list[dict]:
        """One brokerClassification message per alert (``ingest_ms`` default: now)."""
        if len(publish_ms) != len(alerts):
            raise ValueError(f"{len(alerts)} alerts but {len(publish_ms)} publish times")
        probs = self.classify(alerts) if len(alerts) else np.empty((0, len(self.model.classes)))
        ingest = [None] * len(alerts) if ingest_ms is None else ingest_ms
        return [
            make_message(
                a, self.model.classes, p, publish_ms=pub, ingest_ms=ing, identity=self.identity
            )
            for a, p, pub, ing in zip(alerts, probs, publish_ms, ingest, strict=True)
        ]
