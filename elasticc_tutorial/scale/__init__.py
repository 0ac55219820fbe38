"""The whole campaign: split the data into per-file units, compute per-object features out of core
on one node (polars streaming), over a Dask cluster (local or SLURM at NERSC), in a batch job, or in
the TOM's database.

* :mod:`~elasticc_tutorial.scale.units`: :class:`Unit`, :func:`units`, :func:`read_unit`, :func:`split`;
* :mod:`~elasticc_tutorial.scale.features`: :func:`features` (the one feature definition),
  :func:`features_streaming`, :func:`features_in_slices`, :func:`features_of_unit`,
  :func:`features_sql`;
* :mod:`~elasticc_tutorial.scale.cluster`: :func:`cluster`, :func:`map_units`, :func:`gather_frames`,
  :func:`slurm_settings`, :func:`slurm_cluster`, :func:`batch_script`, :func:`write_batch_script`,
  :func:`campaign_seconds`.

Command line (what the batch script runs): ``python -m elasticc_tutorial.scale features SOURCE
--out DIR [--workers N] [--form F] [--part I/N]`` and ``... combine DIR``.
"""

from elasticc_tutorial.scale.cluster import (
    CAMPAIGN,
    PERLMUTTER_CPU_CORES,
    SlurmSettings,
    at_nersc,
    batch_script,
    campaign_seconds,
    cluster,
    gather_frames,
    map_units,
    slurm_cluster,
    slurm_settings,
    write_batch_script,
)
from elasticc_tutorial.scale.features import (
    FEATURE_COLUMNS,
    SNR_THRESHOLD,
    features,
    features_in_slices,
    features_of_unit,
    features_sql,
    features_streaming,
    scan_lightcurves,
)
from elasticc_tutorial.scale.units import (
    FORMS,
    LIGHTCURVE_COLUMNS,
    Unit,
    alert_units,
    parquet_units,
    read_unit,
    snana_units,
    split,
    units,
)

__all__ = [
    "CAMPAIGN",
    "FEATURE_COLUMNS",
    "FORMS",
    "LIGHTCURVE_COLUMNS",
    "PERLMUTTER_CPU_CORES",
    "SNR_THRESHOLD",
    "SlurmSettings",
    "Unit",
    "alert_units",
    "at_nersc",
    "batch_script",
    "campaign_seconds",
    "cluster",
    "features",
    "features_in_slices",
    "features_of_unit",
    "features_sql",
    "features_streaming",
    "gather_frames",
    "map_units",
    "parquet_units",
    "read_unit",
    "scan_lightcurves",
    "slurm_cluster",
    "slurm_settings",
    "snana_units",
    "split",
    "units",
    "write_batch_script",
]
