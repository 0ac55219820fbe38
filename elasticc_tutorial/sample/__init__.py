"""A deterministic synthetic mini ELAsTiCC2 campaign (``elasticc-tutorial sample build``).

:func:`build` simulates a population for each of the 38 ELAsTiCC2 SNANA model directories
(:data:`MODELS`; sizes in :func:`scaling_table`) with physically motivated light curves and an
LSST-like cadence, and writes it in all four ELAsTiCC2 forms:
SNANA FITS (test and training sets), Parquet, AVRO alert / broker-message tarballs and the TOM's
PostgreSQL tables. See :mod:`.models`, :mod:`.cadence` and :mod:`.simulate` for the physics and
:mod:`.build` for the directory layout.
"""

from elasticc_tutorial.sample.build import (
    ALERT_WINDOW,
    DEFAULT_OBJECTS_PER_MODEL,
    DEFAULT_SEED,
    MANIFEST,
    MODELS,
    build,
)
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.scaling import scaling_table
from elasticc_tutorial.sample.verify import verify

__all__ = [
    "ALERT_WINDOW",
    "DEFAULT_OBJECTS_PER_MODEL",
    "DEFAULT_SEED",
    "MANIFEST",
    "MODELS",
    "ModelSample",
    "build",
    "scaling_table",
    "verify",
]
