"""Synthetic broker classifiers: replies to the sample's alerts, as the TOM stored them.

Three *sample* classifiers stand in for the real ELAsTiCC2 brokers (they are deliberately not named
after any real broker). Each sees an alert, knows how many detections the object has had so far,
and reports ELAsTiCC2 classIds with probabilities that sum to 1 (the rest of the mass goes to
``200 Residual``):

* ``SampleBrokerA`` / ``SampleForest 2.1``: every leaf class with p >= 1 %, plus Residual; the
  best classifier, good after ~10 detections;
* ``SampleBrokerB`` / ``SampleNet 0.4``: its top 3 classes plus Residual, and ``300
  NotClassified`` (p = 1) for an object's first detection; middling, slower to improve, and
  slow to reply (~10 min);
* ``SampleBrokerC`` / ``SampleIa 1.0``: binary, ``2222 Ia`` and ``200 Residual``; the weakest.

How the probabilities arise: for an object of true leaf class *k* a classifier's logit for class
*j* is ``strength(n) * S[k, j]`` plus a persistent per-object error and per-alert scatter, where
``S`` is a class-similarity matrix with realistic confusions (Ia vs 91bg vs Ib/c vs Iax, II vs the
IIn-like long transients, periodic variables among themselves, the fast transients among
themselves, ...), and ``strength(n)`` grows with the number of detections *n*. Probabilities are the
softmax of the logits. Objects of models without an ELAsTiCC2 classId (PISN-STELLA, strongly lensed
SNe) look like their unlensed / PISN counterparts.

Timestamps model the campaign's plumbing: ``elasticcpublishtimestamp`` = when the alert was sent;
the broker ingests it after a log-normal delay (seconds to minutes, per broker); the classifier's
Kafka message (``msghdrtimestamp``) follows after its processing delay; DESC's consumer stores it
(``descingesttimestamp``) shortly after. A broker sometimes classifies the same alert again
(reprocessing after an outage or a model update): a small fraction of alerts get a second message
from the same classifier hours later, with its own scatter, which is why the TOM's metrics keep only
the latest message per source and classifier. Everything is deterministic given the seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from elasticc_tutorial import taxonomy

__all__ = [
    "CLASSIFIERS",
    "LEAF_CLASSES",
    "SampleClassifier",
    "classifier_table",
    "classify",
    "similarity_matrix",
]

RESIDUAL = 200
NOT_CLASSIFIED = 300
IA = 2222


@dataclass(frozen=True)
class SampleClassifier:
    """One synthetic classifier and the knobs of its quality and latency."""

    brokername: str
    brokerversion: str
    classifiername: str
    classifierparams: str
    kind: Literal["multiclass", "top3", "binary_ia"]
    strength_first: float  # logit separation at the first detection
    strength_max: float  # ... after many detections
    growth: float  # detections to gain ~63 % of the way from first to max
    object_noise: float  # persistent per-object error (systematic confusion)
    alert_noise: float  # per-alert scatter
    min_detections: int  # fewer detections -> "300 NotClassified" with p = 1
    ingest_delay_s: float  # median alert -> broker ingest delay
    process_delay_s: float  # median broker ingest -> classification message delay
    resend_fraction: float = 0.0  # alerts classified a second time, hours later (reprocessing)

    @property
    def topic(self) -> str:
        """The (synthetic) Kafka topic the classifier publishes to."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.classifiername.lower()).strip("-")
        return f"elasticc2-{self.brokername.lower()}-{slug}"


#: The sample classifiers, in classifier_id order (ids start at 1).
CLASSIFIERS: tuple[SampleClassifier, ...] = (
    SampleClassifier(
        brokername="SampleBrokerA",
        brokerversion="2.1.0",
        classifiername="SampleForest 2.1",
        classifierparams="light curve + host photo-z features",
        kind="multiclass",
        strength_first=1.0,
        strength_max=7.0,
        growth=8.0,
        object_noise=0.7,
        alert_noise=0.5,
        min_detections=1,
        ingest_delay_s=20.0,
        process_delay_s=90.0,
        resend_fraction=0.03,
    ),
    SampleClassifier(
        brokername="SampleBrokerB",
        brokerversion="0.4",
        classifiername="SampleNet 0.4",
        classifierparams="recurrent network on light curve only",
        kind="top3",
        strength_first=0.5,
        strength_max=4.5,
        growth=15.0,
        object_noise=0.9,
        alert_noise=0.7,
        min_detections=2,
        ingest_delay_s=60.0,
        process_delay_s=600.0,
        resend_fraction=0.01,
    ),
    SampleClassifier(
        brokername="SampleBrokerC",
        brokerversion="1.0",
        classifiername="SampleIa 1.0",
        classifierparams="binary SN Ia vs rest",
        kind="binary_ia",
        strength_first=0.3,
        strength_max=3.0,
        growth=12.0,
        object_noise=1.0,
        alert_noise=0.8,
        min_detections=1,
        ingest_delay_s=5.0,
        process_delay_s=20.0,
    ),
)

#: The leaf classIds the classifiers choose among (those with an SNANA model).
LEAF_CLASSES: tuple[int, ...] = tuple(sorted(set(taxonomy.GENTYPE_TO_CLASSID.values())))

# What an object of an unmapped gentype looks like to a classifier.
_LOOKALIKE = {57: 2246, 58: 2246, 71: 2222, 72: 2224, 73: 2223, 74: 2223}

# Pairwise similarities beyond the default "same category" level.
_CONFUSIONS = {
    (2222, 2226): 0.75,  # Ia vs 91bg
    (2222, 2223): 0.70,  # Ia vs Ib/c
    (2222, 2225): 0.65,  # Ia vs Iax
    (2223, 2226): 0.55,
    (2223, 2224): 0.50,  # Ib/c vs II
    (2224, 2244): 0.50,  # II(n) vs ILOT
    (2224, 2245): 0.50,  # II(n) vs CART
    (2224, 2242): 0.45,  # II(n) vs SLSN
    (2242, 2246): 0.65,  # SLSN vs PISN
    (2242, 2243): 0.50,  # SLSN vs TDE
    (2243, 2332): 0.35,  # TDE vs AGN
    (2232, 2233): 0.50,  # KN vs M-dwarf flare
    (2233, 2234): 0.45,  # flare vs dwarf nova
    (2234, 2235): 0.35,  # dwarf nova vs microlensing
    (2323, 2324): 0.70,  # RR Lyrae vs delta Scuti
    (2322, 2323): 0.60,  # Cepheid vs RR Lyrae
    (2323, 2325): 0.55,  # RR Lyrae vs EB
    (2322, 2324): 0.50,
    (2324, 2325): 0.45,
}


def similarity_matrix() -> np.ndarray:
    """``S[k, j]``: how much class ``j`` resembles true class ``k`` (1 on the diagonal)."""
    n = len(LEAF_CLASSES)
    s = np.zeros((n, n))
    for a, ca in enumerate(LEAF_CLASSES):
        for b, cb in enumerate(LEAF_CLASSES):
            if a == b:
                s[a, b] = 1.0
            elif ca // 10 == cb // 10:
                s[a, b] = 0.30  # same category (SN-like, Fast, Long, Periodic)
            elif ca // 100 == cb // 100:
                s[a, b] = 0.10
    for (ca, cb), v in _CONFUSIONS.items():
        a, b = LEAF_CLASSES.index(ca), LEAF_CLASSES.index(cb)
        s[a, b] = s[b, a] = v
    return s


def _true_index(gentype: np.ndarray) -> np.ndarray:
    out = np.empty(len(gentype), dtype=np.int64)
    for i, g in enumerate(gentype):
        g = int(g)
        cid = taxonomy.GENTYPE_TO_CLASSID.get(g, _LOOKALIKE.get(g))
        if cid is None:
            raise ValueError(f"gentype {g} has no classId and no look-alike class")
        out[i] = LEAF_CLASSES.index(cid)
    return out


def classifier_table(first_message: dict[int, object] | None = None) -> pl.DataFrame:
    """The ``elasticc2_brokerclassifier`` rows; ``modified`` = each classifier's first message time."""
    first_message = first_message or {}
    rows = [
        {
            "classifier_id": i,
            "brokername": c.brokername,
            "brokerversion": c.brokerversion,
            "classifiername": c.classifiername,
            "classifierparams": c.classifierparams,
            "modified": first_message.get(i),
        }
        for i, c in enumerate(CLASSIFIERS, start=1)
    ]
    return pl.DataFrame(
        rows,
        schema={
            "classifier_id": pl.Int64,
            "brokername": pl.String,
            "brokerversion": pl.String,
            "classifiername": pl.String,
            "classifierparams": pl.String,
            "modified": pl.Datetime("ms", "UTC"),
        },
    )


def _delays_ms(rng: np.random.Generator, median_s: float, sigma: float, n: int) -> np.ndarray:
    return np.round(median_s * 1000.0 * rng.lognormal(0.0, sigma, n)).astype(np.int64) + 1


def _report(clf: SampleClassifier, probs: np.ndarray, ndet: np.ndarray) -> pl.DataFrame:
    """Per message (row of ``probs``): ``classid`` and ``probability`` lists, summing to 1.

    Reported classes come in decreasing probability, then ``200 Residual`` with the rest of the
    mass (computed from the float32 values, so the stored numbers sum to 1 within float32
    rounding); messages with fewer than ``min_detections`` detections say ``300 NotClassified``.
    """
    n, k = probs.shape
    if clf.kind == "binary_ia":
        cols = np.full((n, 1), LEAF_CLASSES.index(IA))
        keep = np.ones((n, 1), dtype=bool)
    else:
        cols = np.argsort(-probs, axis=1, kind="stable")
        if clf.kind == "top3":
            cols = cols[:, :3]
            keep = np.ones(cols.shape, dtype=bool)
        else:
            keep = np.take_along_axis(probs, cols, axis=1) >= 0.01
    p32 = np.take_along_axis(probs, cols, axis=1).astype(np.float32)
    rest = (1.0 - np.where(keep, p32.astype(np.float64), 0.0).sum(axis=1)).astype(np.float32)
    classified = ndet >= clf.min_detections
    keep &= classified[:, None]
    row, pos = np.nonzero(keep)
    leaf = np.asarray(LEAF_CLASSES, dtype=np.int16)
    with_rest = classified & (rest > 0)
    not_classified = ~classified
    parts = pl.DataFrame(
        {
            "row": np.concatenate([row, np.flatnonzero(with_rest), np.flatnonzero(not_classified)]),
            "pos": np.concatenate(
                [pos, np.full(with_rest.sum(), k + 1), np.zeros(not_classified.sum(), dtype=int)]
            ),
            "classid": np.concatenate(
                [
                    leaf[cols[row, pos]],
                    np.full(with_rest.sum(), RESIDUAL, dtype=np.int16),
                    np.full(not_classified.sum(), NOT_CLASSIFIED, dtype=np.int16),
                ]
            ),
            "probability": np.concatenate(
                [
                    p32[row, pos],
                    rest[with_rest],
                    np.ones(not_classified.sum(), dtype=np.float32),
                ]
            ),
        }
    )
    out = (
        parts.sort("row", "pos").group_by("row", maintain_order=True).agg("classid", "probability")
    )
    if out.height != n:
        raise AssertionError("every alert must get exactly one message")
    return out


def _probabilities(
    clf: SampleClassifier,
    strength: np.ndarray,
    similarity: np.ndarray,
    obj_err: np.ndarray,
    alert_err: np.ndarray,
) -> np.ndarray:
    """Softmax of ``strength * S[true class] + object error + per-alert scatter``, one row per alert."""
    logits = strength[:, None] * similarity + clf.object_noise * obj_err
    logits += clf.alert_noise * alert_err
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


def classify(alerts: pl.DataFrame, gentypes: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    """The sample classifiers' replies to the sent ``alerts``.

    ``alerts`` needs ``alert_id``, ``diasource_id``, ``diaobject_id``, ``ndet`` (detections of the
    object so far, this one included) and ``sent_ms`` (alert publish time, ms since the epoch).
    ``gentypes`` maps ``diaobject_id`` to the true ``gentype``. Returns one row per message with the
    ``elasticc2_brokermessage`` columns (``brokermessage_id`` in DESC-ingest order, ``classid``
    ``List(Int16)``, ``probability`` ``List(Float32)``, timestamps as UTC datetimes).
    """
    for col in ("alert_id", "diasource_id", "diaobject_id", "ndet", "sent_ms"):
        if col not in alerts.columns:
            raise ValueError(f"alerts lacks column {col!r}")
    a = alerts.sort("alert_id").join(
        gentypes.select("diaobject_id", "gentype"), on="diaobject_id", how="left"
    )
    if a["gentype"].null_count():
        bad = a.filter(pl.col("gentype").is_null())["diaobject_id"][0]
        raise ValueError(f"no truth gentype for diaobject_id {bad}")
    sim = similarity_matrix()
    true_idx = _true_index(a["gentype"].to_numpy())
    obj_ids, obj_pos = np.unique(a["diaobject_id"].to_numpy(), return_inverse=True)
    ndet = a["ndet"].to_numpy()
    sent = a["sent_ms"].to_numpy()
    frames = []
    for cid, clf in enumerate(CLASSIFIERS, start=1):
        rng = np.random.default_rng([seed, 7919, cid])
        n, k = len(a), len(LEAF_CLASSES)
        obj_err = rng.standard_normal((len(obj_ids), k))[obj_pos]
        alert_err = rng.standard_normal((n, k))
        strength = clf.strength_first + (clf.strength_max - clf.strength_first) * (
            1.0 - np.exp(-(ndet - 1) / clf.growth)
        )
        probs = _probabilities(clf, strength, sim[true_idx], obj_err, alert_err)
        report = _report(clf, probs, ndet)
        ingest = sent + _delays_ms(rng, clf.ingest_delay_s, 0.6, n)
        msghdr = ingest + _delays_ms(rng, clf.process_delay_s, 0.8, n)
        desc = msghdr + _delays_ms(rng, 15.0, 1.0, n)
        parts = [(np.arange(n), report, ingest, msghdr, desc)]
        # reprocessing (drawn after everything above, so first messages do not depend on it):
        # the same alert classified again hours later, with fresh per-alert scatter
        again = np.flatnonzero(rng.random(n) < clf.resend_fraction)
        if again.size:
            scatter = rng.standard_normal((again.size, k))
            probs2 = _probabilities(
                clf, strength[again], sim[true_idx[again]], obj_err[again], scatter
            )
            ingest2 = msghdr[again] + _delays_ms(rng, 6 * 3600.0, 0.5, again.size)
            msghdr2 = ingest2 + _delays_ms(rng, clf.process_delay_s, 0.8, again.size)
            desc2 = msghdr2 + _delays_ms(rng, 15.0, 1.0, again.size)
            parts.append((again, _report(clf, probs2, ndet[again]), ingest2, msghdr2, desc2))
        frames.append(
            pl.concat(
                pl.DataFrame(
                    {
                        "topicname": clf.topic,
                        "alert_id": a["alert_id"].gather(idx),
                        "diasource_id": a["diasource_id"].gather(idx),
                        "msghdrtimestamp": hdr,
                        "descingesttimestamp": dsc,
                        "elasticcpublishtimestamp": sent[idx],
                        "brokeringesttimestamp": ing,
                        "classid": rep["classid"],
                        "classifier_id": cid,
                        "probability": rep["probability"],
                    }
                )
                for idx, rep, ing, hdr, dsc in parts
            )
            .sort("msghdrtimestamp", "alert_id")
            .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("streammessage_id"))
        )
    ts = [
        "msghdrtimestamp",
        "descingesttimestamp",
        "elasticcpublishtimestamp",
        "brokeringesttimestamp",
    ]
    msgs = (
        pl.concat(frames)
        .sort("descingesttimestamp", "classifier_id", "alert_id")
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("brokermessage_id"),
            *[pl.col(c).cast(pl.Datetime("ms", "UTC")) for c in ts],
            pl.col("topicname").cast(pl.String),
            pl.col("classifier_id").cast(pl.Int64),
        )
    )
    return msgs.select(
        "brokermessage_id",
        "streammessage_id",
        "topicname",
        "alert_id",
        "diasource_id",
        "msghdrtimestamp",
        "descingesttimestamp",
        "elasticcpublishtimestamp",
        "brokeringesttimestamp",
        "classid",
        "classifier_id",
        "probability",
    )
