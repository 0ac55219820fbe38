"""A deterministic synthetic mini ELAsTiCC2 campaign (``elasticc-tutorial sample build``).

:func:`build` simulates one small population per SNANA model (:data:`MODELS`) with physically
motivated light curves and an LSST-like cadence, and writes it in all four ELAsTiCC2 forms:
SNANA FITS (test and training sets), Parquet, AVRO alert / broker-message tarballs and the TOM's
PostgreSQL tables. See :mod:`.models`, :mod:`.cadence` and :mod:`.simulate` for the physics and
:mod:`.build` for the directory layout.
"""

from elasticc_tutorial.sample.build import (
    DEFAULT_OBJECTS_PER_MODEL,
    DEFAULT_SEED,
    MANIFEST,
    MODELS,
    build,
)
from elasticc_tutorial.sample.campaign import ModelSample

__all__ = [
    "DEFAULT_OBJECTS_PER_MODEL",
    "DEFAULT_SEED",
    "MANIFEST",
    "MODELS",
    "ModelSample",
    "build",
]
