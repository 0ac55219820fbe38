"""Broker-classification metrics: from ``elasticc2_brokermessage`` rows to per-object classes,
confusion matrices, completeness and purity.

A broker message carries two parallel arrays, ``classid`` (smallint[]) and ``probability`` (real[]):
``classid[i]`` was given probability ``probability[i]``. The functions here take and return polars
frames, so they work the same on rows from the TOM's SQL interface and on any other source.

Match levels follow :mod:`elasticc_tutorial.taxonomy`. A reported classId is *coarsened* to a level
(:func:`taxonomy.coarsen`) before it is compared with the truth: a report of ``2223 Ib/c`` for a
true SN Ia is wrong at the ``exact`` level but right at the ``category`` level (both are ``2220
SN-like``). Meta classes (``200 Residual``, ``300 NotClassified``, ...), Static and every ``/Other``
class are never coarsened and never match.

The sample's class mix is not the real campaign's: ``prevalence=`` (a weight per exact classId, e.g.
the real object counts) reweights each object by ``prevalence / share in the frame`` of its true
class, so purity (the only metric that mixes classes) is what the real mix would give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from elasticc_tutorial import taxonomy
from elasticc_tutorial.errors import ElasticcTutorialError
from elasticc_tutorial.taxonomy import MATCH_LEVELS, MatchLevel, coarsen

__all__ = [
    "MetricsError",
    "accuracy",
    "best_class",
    "coarsen",
    "coarsen_expr",
    "completeness_purity",
    "confusion_matrix",
    "explode_classifications",
    "latest_messages",
    "threshold_completeness_purity",
    "true_classid",
]


class MetricsError(ElasticcTutorialError, ValueError):
    """A frame or argument the metrics cannot use (the message names the column or value)."""


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MetricsError(f"{what} lacks column(s) {missing}; it has {frame.columns}")


def _check_level(level: str) -> MatchLevel:
    if level not in MATCH_LEVELS:
        raise MetricsError(f"level must be one of {MATCH_LEVELS}, got {level!r}")
    return level


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
            raise MetricsError(
                f"messages column {col!r} must be a list column, not {messages.schema[col]}"
            )
    bad = messages.filter(pl.col(classid).list.len() != pl.col(probability).list.len())
    if bad.height:
        where = (
            f"brokermessage_id {bad['brokermessage_id'][0]}"
            if "brokermessage_id" in bad.columns
            else f"{bad.height} message(s)"
        )
        raise MetricsError(f"{where}: {classid} and {probability} arrays differ in length")
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
    frame: pl.DataFrame,
    gentype: str,
    predicted: str,
    level: MatchLevel,
    prevalence: Mapping[int, float] | None = None,
) -> pl.DataFrame:
    """Rows with a mapped gentype, with ``true_class`` and ``pred_class`` coarsened to ``level``
    and the object ``weight`` (1, or the reweighting of ``prevalence``)."""
    _require(frame, [gentype, predicted], "frame")
    out = frame.select(
        true_classid(gentype).alias("leaf"),
        coarsen_expr(pl.col(predicted), level).alias("pred_class"),
    ).drop_nulls("leaf")
    return out.with_columns(
        coarsen_expr("leaf", level).alias("true_class"), _weights(out["leaf"], prevalence)
    ).drop("leaf")


def _weights(leaf: pl.Series, prevalence: Mapping[int, float] | None) -> pl.Series:
    """Per object: 1, or (share of its exact class in ``prevalence``) / (share in the frame)."""
    if prevalence is None:
        return pl.Series("weight", [1.0] * len(leaf), dtype=pl.Float64)
    present = leaf.unique().to_list()
    missing = sorted(c for c in present if c not in prevalence)
    if missing:
        raise MetricsError(f"prevalence has no weight for the exact classId(s) {missing}")
    bad = {c: w for c, w in prevalence.items() if not w >= 0}
    if bad or not sum(prevalence[c] for c in present) > 0:
        raise MetricsError(
            f"prevalence weights must be >= 0 and not all 0, got {bad or prevalence}"
        )
    total = sum(prevalence[c] for c in present)
    counts = leaf.value_counts()
    share = dict(zip(counts[leaf.name], counts["count"] / len(leaf), strict=True))
    factor = {c: prevalence[c] / total / share[c] for c in present}
    return leaf.replace_strict(factor, return_dtype=pl.Float64).alias("weight")


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
    labelled = _labelled(frame, gentype, predicted, _check_level(level))
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
    labelled = _labelled(frame, gentype, predicted, _check_level(level))
    if labelled.is_empty():
        return float("nan")
    return labelled.select((pl.col("true_class") == pl.col("pred_class")).mean()).item()


def completeness_purity(
    frame: pl.DataFrame,
    *,
    gentype: str = "gentype",
    predicted: str = "classid",
    level: MatchLevel = "exact",
    prevalence: Mapping[int, float] | None = None,
) -> pl.DataFrame:
    """Completeness and purity per true class at match ``level``.

    For each class *c* (coarsened to ``level``): ``n_true`` objects are truly *c*, ``n_pred`` were
    classified as *c*, ``n_correct`` both; completeness = n_correct / n_true, purity = n_correct /
    n_pred (null when nothing was classified as *c*). With ``prevalence`` (a weight per exact
    classId), purity counts each object with its class's reweighting (see the module docstring);
    the counts stay counts. Objects whose gentype has no classId are left out. One row per true
    class, sorted by class.
    """
    labelled = _labelled(frame, gentype, predicted, _check_level(level), prevalence)
    correct = pl.col("true_class") == pl.col("pred_class")
    n_true = labelled.group_by("true_class").agg(
        pl.len().alias("n_true"), (correct.sum()).alias("n_correct")
    )
    n_pred = labelled.group_by(pl.col("pred_class").alias("true_class")).agg(
        pl.len().alias("n_pred"),
        pl.col("weight").sum().alias("w_pred"),
        pl.col("weight").filter(correct).sum().alias("w_correct"),
    )
    names = {c: taxonomy.class_name(c) for c in taxonomy.classids()}
    return (
        n_true.join(n_pred, on="true_class", how="left")
        .with_columns(
            pl.col("n_pred", "n_correct").fill_null(0).cast(pl.Int64),
            pl.col("n_true").cast(pl.Int64),
        )
        .with_columns(
            (pl.col("n_correct") / pl.col("n_true")).alias("completeness"),
            pl.when(pl.col("w_pred") > 0)
            .then(pl.col("w_correct") / pl.col("w_pred"))
            .otherwise(None)
            .alias("purity"),
            pl.col("true_class").replace_strict(names, return_dtype=pl.String).alias("class_name"),
        )
        .rename({"true_class": "classid"})
        .sort("classid")
        .select("classid", "class_name", "n_true", "n_pred", "n_correct", "completeness", "purity")
    )


def threshold_completeness_purity(
    frame: pl.DataFrame,
    target: int,
    thresholds: Sequence[float],
    *,
    score: str = "probability",
    gentype: str = "gentype",
    level: MatchLevel = "exact",
    prevalence: Mapping[int, float] | None = None,
) -> pl.DataFrame:
    """Completeness and purity of selecting ``score > threshold`` as class ``target``, for each
    threshold: one row per object in ``frame`` (its true ``gentype`` and its ``score``, e.g. the
    probability a classifier gave ``target``); an object is truly ``target`` when
    :func:`taxonomy.is_match` says so at ``level``. Columns: ``threshold``, ``selected``,
    ``n_true``, ``n_correct``, ``completeness``, ``purity`` (null when nothing is selected;
    reweighted with ``prevalence`` as in :func:`completeness_purity`)."""
    _require(frame, [gentype, score], "frame")
    _check_level(level)
    matching = taxonomy.gentypes_of_class(target, level)
    rows = frame.select(
        pl.col(gentype).is_in(matching).alias("is_true"),
        pl.col(score).alias("score"),
        true_classid(gentype).alias("leaf"),
    ).drop_nulls("leaf")
    rows = rows.with_columns(_weights(rows["leaf"], prevalence))
    out = []
    n_true = int(rows["is_true"].sum())
    for thr in thresholds:
        sel = rows.filter(pl.col("score") > thr)
        n_correct = int(sel["is_true"].sum())
        w_sel = float(sel["weight"].sum())
        out.append(
            {
                "threshold": float(thr),
                "selected": sel.height,
                "n_true": n_true,
                "n_correct": n_correct,
                "completeness": n_correct / n_true if n_true else None,
                "purity": float(sel.filter("is_true")["weight"].sum()) / w_sel
                if w_sel > 0
                else None,
            }
        )
    return pl.DataFrame(
        out,
        schema={
            "threshold": pl.Float64,
            "selected": pl.Int64,
            "n_true": pl.Int64,
            "n_correct": pl.Int64,
            "completeness": pl.Float64,
            "purity": pl.Float64,
        },
    )
