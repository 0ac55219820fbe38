"""The in-memory campaign handed from the simulator to the file writers.

One :class:`ModelSample` per SNANA model: the SNANA HEAD table (one row per object), the photometry
(one row per epoch, no separator rows) and the truth table of the ``.DUMP`` file. The SNANA, Parquet,
alert and database writers all consume this one structure, so every on-disk form of the sample
describes the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["ModelSample"]


@dataclass
class ModelSample:
    """The simulated objects of one SNANA model.

    Attributes:
        model: SNANA model (directory) name, e.g. ``"SNIa-SALT3"``.
        gentype: SNANA gentype of the model (``taxonomy.MODEL_GENTYPES[model]``).
        head: one row per object, the model's exact SNANA HEAD columns in file order (``SNID`` as
            str, dtypes matching the TFORMs); ``PTROBS_MIN``/``PTROBS_MAX`` are not yet meaningful
            (the SNANA writer sets them per file).
        phot: column ``SNID`` (Int64) followed by the 21 SNANA PHOT columns, rows in time order per
            object, objects in HEAD order, no ``MJD=-777`` separator rows.
        truth: the ``.DUMP`` VARNAMES columns (``CID`` first, Int64), one row per object.
        n_generated: candidates drawn to find these objects (the README's ``NLC_GEN``); the
            others failed the trigger. 0 when unknown.
    """

    model: str
    gentype: int
    head: pl.DataFrame
    phot: pl.DataFrame
    truth: pl.DataFrame
    n_generated: int = 0

    @property
    def n_objects(self) -> int:
        """Number of objects (rows of ``head``)."""
        return self.head.height
