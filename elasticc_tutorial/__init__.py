"""elasticc_tutorial: read, explore and score the LSST DESC ELAsTiCC2 data in all its forms.

Finding the data
    :mod:`~elasticc_tutorial.paths` (``paths.locate()``: where each form lives, NERSC or the offline
    sample) and :mod:`~elasticc_tutorial.doctor` (what is installed and reachable).
Reading it (one light-curve API and schema, :mod:`~elasticc_tutorial.lightcurves`)
    :mod:`~elasticc_tutorial.snana` (SNANA FITS HEAD/PHOT files and DUMP truth, over
    :mod:`~elasticc_tutorial.fitstable`), :mod:`~elasticc_tutorial.parquet` (the per-model Parquet
    files), :mod:`~elasticc_tutorial.alerts` (Avro alert and broker-message tars) with
    :mod:`~elasticc_tutorial.schema` (the ``elasticc.v0_9_1`` Avro schemas).
The DESC TOM
    :mod:`~elasticc_tutorial.tom` (web API and SQL client) and :mod:`~elasticc_tutorial.localtom`
    (the offline twin: real Django on real PostgreSQL, :mod:`~elasticc_tutorial.pg`).
Science helpers
    :mod:`~elasticc_tutorial.photometry` (zero points, magnitudes, S/N, PHOTFLAG bits),
    :mod:`~elasticc_tutorial.taxonomy` (classIds, gentypes, models, match levels),
    :mod:`~elasticc_tutorial.metrics` (broker messages to confusion matrices, completeness and
    purity) and :mod:`~elasticc_tutorial.plots`.
The twin and the book
    :mod:`~elasticc_tutorial.sample` (the synthetic sample in all four forms),
    :mod:`~elasticc_tutorial.book` and :mod:`~elasticc_tutorial.kernels`; errors of every module
    derive from :class:`elasticc_tutorial.errors.ElasticcTutorialError`.
"""

__version__ = "0.1.0"
