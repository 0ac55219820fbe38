"""How many objects of each model the sample holds, and how that maps onto the real campaign.

The real ELAsTiCC2 test set has ~4.1 million objects, ~1.7 million of them SNe Ia. The sample keeps
the *shape* of that class balance at a size a laptop builds in seconds: every model gets at least
``floor`` objects (``objects_per_model``, default 40: one per HEAD/PHOT file), and a model whose real
count is known gets ``floor * count / REFERENCE_COUNT`` if that is more, so SN Ia (20x the floor by
default) is the most common model, then the other big ones.

Real counts are published for four models only (formats.md §7); three more follow from the real
1 % training subsets (§7: objects written x 100, divided by the SNIa training/test ratio
172,484 / 1,705,217). No per-model count is published for the other 31 directories: their
``campaign_count`` is null and they get the floor. :func:`scaling_table` shows all of it.
"""

from __future__ import annotations

import math

import polars as pl

from elasticc_tutorial.sample.specs import MODELS
from elasticc_tutorial.taxonomy import GENTYPE_TO_CLASSID, MODEL_GENTYPES

__all__ = [
    "CAMPAIGN_COUNTS",
    "REFERENCE_COUNT",
    "TRAIN_FRACTION",
    "sample_counts",
    "scaling_table",
]

#: Real SNIa-SALT3 objects, test set (FINAL) and training set (TRAIN_02); formats.md §7.
_IA_TEST, _IA_TRAIN = 1_705_217, 172_484
#: Training objects per test object (the SNIa-SALT3 ratio, the only one published).
TRAIN_FRACTION = _IA_TRAIN / _IA_TEST


def _from_training_1percent(written: int) -> int:
    return round(written * 100 / TRAIN_FRACTION)


#: model -> (real test-set object count, where it comes from).
CAMPAIGN_COUNTS: dict[str, tuple[int, str]] = {
    "SNIa-SALT3": (_IA_TEST, "published (sprint-week demo1)"),
    "AGN": (108_556, "published (lib_elasticc2 test_read_snana.py)"),
    "CART": (8_926, "published (lib_elasticc2 test_read_snana.py)"),
    "ILOT": (1_143, "published (lib_elasticc2 test_read_snana.py)"),
    "SNIb-Templates": (
        _from_training_1percent(272),
        "inferred: 272 in the 1% training subset x 100 / training fraction",
    ),
    "KN_K17": (
        _from_training_1percent(47),
        "inferred: 47 in the 1% training subset x 100 / training fraction",
    ),
    "Mdwarf-flare": (
        _from_training_1percent(27),
        "inferred: 27 in the 1% training subset x 100 / training fraction",
    ),
}

#: A model with this many real objects gets ``floor`` objects in the sample (SN Ia: 20x floor).
REFERENCE_COUNT = 85_000


def sample_counts(floor: int) -> dict[str, tuple[int, int]]:
    """model -> (test-set objects, training-set objects) for a sample with ``floor`` objects in
    the smallest models. Both sets scale the same way; the training set is :data:`TRAIN_FRACTION`
    of the test set, but never below ``floor`` (every one of its 40 files holds an object)."""
    if not isinstance(floor, int) or floor < 1:
        raise ValueError(f"objects_per_model must be a positive integer, got {floor!r}")
    out = {}
    for model in MODELS:
        count = CAMPAIGN_COUNTS.get(model, (0, ""))[0]
        test = max(floor, round(floor * count / REFERENCE_COUNT))
        train = max(floor, math.ceil(test * TRAIN_FRACTION))
        out[model] = (test, train)
    return out


def scaling_table(floor: int = 40) -> pl.DataFrame:
    """One row per model: its gentype and classId, the real test-set count (null if unpublished)
    and its basis, the sample's test and training counts and the scale factor sample / real."""
    counts = sample_counts(floor)
    rows = []
    for model, (test, train) in counts.items():
        real, basis = CAMPAIGN_COUNTS.get(model, (None, "not published"))
        gentype = MODEL_GENTYPES[model]
        rows.append(
            {
                "model": model,
                "gentype": gentype,
                "classid": GENTYPE_TO_CLASSID.get(gentype),
                "campaign_count": real,
                "basis": basis,
                "sample_count": test,
                "training_count": train,
                "scale_factor": None if real is None else test / real,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "model": pl.String,
            "gentype": pl.Int64,
            "classid": pl.Int64,
            "campaign_count": pl.Int64,
            "basis": pl.String,
            "sample_count": pl.Int64,
            "training_count": pl.Int64,
            "scale_factor": pl.Float64,
        },
    )
