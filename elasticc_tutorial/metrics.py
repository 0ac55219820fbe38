"""Broker-classification metrics: from ``elasticc2_brokermessage`` rows to per-object classes,
confusion matrices, completeness and purity.

A broker message carries two parallel arrays, ``classid`` (smallint[]) and ``probability`` (real[]):
``classid[i]`` was given probability ``probability[i]``. The functions here take and return polars
frames, so they work the same on rows from the TOM's SQL interface and on any other source.

Match levels follow :mod:`elasticc_tutorial.taxonomy`. A reported classId is *coarsened* to a level
before it is compared with the truth: a report of ``2223 Ib/c`` for a true SN Ia is wrong at the
``exact`` level but right at the ``category`` level (both are ``2220 SN-like``). Meta classes
(``200 Residual``, ``300 NotClassified``, ...), Static and every ``/Other`` class are never coarsened
and never match, as in the TOM's ``elasticc2_classidofgentype`` table.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from elasticc_tutorial import taxonomy
from elasticc_tutorial.taxonomy import MATCH_LEVELS, MatchLevel

__all__ = [
    "accuracy",
    "best_class",
    "coarsen",
    "coarsen_expr",
    "completeness_purity",
    "confusion_matrix",
    "explode_classifications",
    "latest_messages",
    "true_classid",
]

# How general each match level is, as the taxonomy level of the class it compares.
_LEVEL_OF_MATCH = {"exact": "ones", "category": "tens", "general": "hundreds", "broad": "thousands"}
_GENERALITY = {"ones": 0, "tens": 1, "hundreds": 2, "thousands": 3}


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {frame.columns}")


def _check_level(level: str) -> MatchLevel:
    if level not in MATCH_LEVELS:
        raise ValueError(f"level must be one of {MATCH_LEVELS}, got {level!r}")
    return level  # type: ignore[return-value]


def coarsen(classid: int, level: MatchLevel) -> int:
    """``classid`` reduced to its ancestor at match ``level`` (``2223 -> 2220`` at ``"category"``).

    Classes already less specific than the level, Meta/Static classes and ``/Other`` classes are
    returned unchanged (they can never match at that level).
    """
    _check_level(level)
    name = taxonomy.class_name(classid)  # also validates classid
    if classid < 2000 or name.endswith("/Other"):
        return int(classid)
    target = _GENERALITY[_LEVEL_OF_MATCH[level]]
    cid = int(classid)
    while _GENERALITY[taxonomy.level(cid)] < target:
        cid = taxonomy.parent(cid)  # type: ignore[assignment]
    return cid


def coarsen_expr(classid: pl.Expr | str, level: MatchLevel) -> pl.Expr:
    """Expression: :func:`coarsen` applied to a classId column (nulls stay null; an unknown
    classId raises when the expression is evaluated)."""
    expr = pl.col(classid) if isinstance(classid, str) else classid
    mapping = {c: coarsen(c, level) for c in taxonomy.classids()}
    return expr.replace_strict(mapping, return_dtype=pl.Int32)


def true_classid(gentype: pl.Expr | str = "gentype") -> pl.Expr:
    """Expression: the exact (leaf) classId of a truth ``gentype`` column; null for the gentypes the
    TOM maps to no classId (PISN-STELLA, strongly lensed SNe)."""
    expr = pl.col(gentype) if isinstance(gentype, str) else gentype
    return expr.replace_strict(taxonomy.GENTYPE_TO_CLASSID, default=None, return_dtype=pl.Int32)


def explode_classifications(
    messages: pl.DataFrame, *, classid: str = "classid", probability: str = "probability"
) -> pl.DataFrame:
    """One row per (message, classId): the ``classid``/``probability`` list columns exploded together.

    Raises ValueError when a message's two arrays differ in length (the row is named by
    ``brokermessage_id`` when that column is present).
    """
    _require(messages, [classid, probability], "messages")
    for col in (classid, probability):
        if not isinstance(messages.schema[col], pl.List):
            raise ValueError(
                f"messages column {col!r} must be a list column, not {messages.schema[col]}"
            )
    bad = messages.filter(pl.col(classid).list.len() != pl.col(probability).list.len())
    if bad.height:
        where = (
            f"brokermessage_id {bad['brokermessage_id'][0]}"
            if "brokermessage_id" in bad.columns
            else f"{bad.height} message(s)"
        )
        raise ValueError(f"{where}: {classid} and {probability} arrays differ in length")
    return messages.explode([classid, probability])


def latest_messages(
    messages: pl.DataFrame,
    *,
    per: Sequence[str] = ("classifier_id", "diasource_id"),
    order_by: Sequence[str] = ("descingesttimestamp", "brokermessage_id"),
) -> pl.DataFrame:
    """The last message (by ``order_by``) of each ``per`` group, e.g. the latest classification each
    classifier sent for each source; rows come out sorted by ``per``."""
    per, order_by = list(per), list(order_by)
    _require(messages, per + order_by, "messages")
    return messages.sort(per + order_by).group_by(per, maintain_order=True).last()


def best_class(
    classifications: pl.DataFrame,
    *,
    per: Sequence[str] = ("classifier_id", "diaobject_id"),
    classid: str = "classid",
    probability: str = "probability",
) -> pl.DataFrame:
    """The highest-probability classId of each ``per`` group of exploded classifications (ties go to
    the smaller classId, so the result is deterministic); columns ``per``, ``classid``,
    ``probability``, sorted by ``per``."""
    per = list(per)
    _require(classifications, [*per, classid, probability], "classifications")
    return (
        classifications.sort(
            [*per, probability, classid], descending=[False] * len(per) + [True, False]
        )
        .group_by(per, maintain_order=True)
        .first()
        .select(*per, classid, probability)
    )


def _labelled(
    frame: pl.DataFrame, gentype: str, predicted: str, level: MatchLevel
) -> tuple[pl.DataFrame, int]:
    """Rows with a mapped gentype, with ``true_class`` and ``pred_class`` coarsened to ``level``."""
    _require(frame, [gentype, predicted], "frame")
    out = frame.select(
        coarsen_expr(true_classid(gentype), level).alias("true_class"),
        coarsen_expr(pl.col(predicted), level).alias("pred_class"),
        true_classid(gentype).is_null().alias("_unmapped"),
    )
    dropped = int(out["_unmapped"].sum())
    return out.filter(~pl.col("_unmapped")).drop("_unmapped"), dropped


def confusion_matrix(
    frame: pl.DataFrame,
    *,
    gentype: str = "gentype",
    predicted: str = "classid",
    level: MatchLevel = "exact",
) -> pl.DataFrame:
    """Counts of (true class, predicted class) pairs at match ``level``, in long form.

    ``frame`` has one row per classified object: its true ``gentype`` and its ``predicted`` classId.
    Both are coarsened to ``level``; objects whose gentype has no classId are left out. Columns:
    ``true_class``, ``pred_class``, ``n`` and ``fraction`` (of the true class's objects), sorted.
    """
    labelled, _ = _labelled(frame, gentype, predicted, _check_level(level))
    return (
        labelled.group_by("true_class", "pred_class")
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .with_columns((pl.col("n") / pl.col("n").sum().over("true_class")).alias("fraction"))
        .sort("true_class", "pred_class")
    )


def accuracy(
    frame: pl.DataFrame,
    *,
    gentype: str = "gentype",
    predicted: str = "classid",
    level: MatchLevel = "exact",
) -> float:
    """Fraction of classified objects whose ``predicted`` class matches the truth at ``level``
    (objects whose gentype has no classId are left out; NaN when none is left)."""
    labelled, _ = _labelled(frame, gentype, predicted, _check_level(level))
    if labelled.is_empty():
        return float("nan")
    return float((labelled["true_class"] == labelled["pred_class"]).mean())


def completeness_purity(
    frame: pl.DataFrame,
    *,
    gentype: str = "gentype",
    predicted: str = "classid",
    level: MatchLevel = "exact",
) -> pl.DataFrame:
    """Completeness and purity per true class at match ``level``.

    For each class *c* (coarsened to ``level``): ``n_true`` objects are truly *c*, ``n_pred`` were
    classified as *c*, ``n_correct`` both; completeness = n_correct / n_true, purity = n_correct /
    n_pred (null when nothing was classified as *c*). Objects whose gentype has no classId are left
    out. One row per true class, sorted by class.
    """
    labelled, _ = _labelled(frame, gentype, predicted, _check_level(level))
    n_true = labelled.group_by("true_class").agg(pl.len().alias("n_true"))
    n_pred = labelled.group_by(pl.col("pred_class").alias("true_class")).agg(
        pl.len().alias("n_pred")
    )
    n_correct = (
        labelled.filter(pl.col("true_class") == pl.col("pred_class"))
        .group_by("true_class")
        .agg(pl.len().alias("n_correct"))
    )
    out = (
        n_true.join(n_pred, on="true_class", how="left")
        .join(n_correct, on="true_class", how="left")
        .with_columns(pl.col("n_pred", "n_correct").fill_null(0))
        .with_columns(pl.col("n_true", "n_pred", "n_correct").cast(pl.Int64))
        .with_columns(
            (pl.col("n_correct") / pl.col("n_true")).alias("completeness"),
            pl.when(pl.col("n_pred") > 0)
            .then(pl.col("n_correct") / pl.col("n_pred"))
            .otherwise(None)
            .alias("purity"),
        )
        .rename({"true_class": "classid"})
        .sort("classid")
    )
    return out.with_columns(
        pl.col("classid")
        .replace_strict(
            {c: taxonomy.class_name(c) for c in taxonomy.classids()}, return_dtype=pl.String
        )
        .alias("class_name")
    ).select("classid", "class_name", "n_true", "n_pred", "n_correct", "completeness", "purity")
