"""Per-file units of work: the pieces a whole-campaign analysis is split into.

Every form of the data comes in files that can be read independently, and an object never spans
two of them (except in the alert tars, where one object's alerts are spread over many nights):

* SNANA: one HEAD/PHOT pair (up to 40 per model), read by ``snana.read_lightcurves_file``;
* Parquet: one ``<model>.parquet`` file, or a group of its row groups (a file holds one row per
  object, so a row group holds whole light curves);
* alerts: one ``<mjd>.tar`` of a night.

A :class:`Unit` is a small, picklable description (paths, no data), so a list of units can be sent
to Dask workers, SLURM tasks or a ``multiprocessing`` pool and each worker reads only its own part.
:func:`read_unit` is the single place that calls the readers (keep it that way: when the readers'
signatures change, only this function changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow.parquet as pq

from elasticc_tutorial import alerts, parquet, snana
from elasticc_tutorial.errors import ScaleError

__all__ = [
    "FORMS",
    "LIGHTCURVE_COLUMNS",
    "Unit",
    "alert_units",
    "parquet_units",
    "read_unit",
    "snana_units",
    "split",
    "units",
]

Form = Literal["snana", "parquet", "alerts"]
FORMS: tuple[str, ...] = ("snana", "parquet", "alerts")

#: The per-point columns the feature analysis needs (the rest of the 13 list columns stay on disk).
LIGHTCURVE_COLUMNS: tuple[str, ...] = ("MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR")


@dataclass(frozen=True, order=True)
class Unit:
    """One independently readable piece of the data: a SNANA file pair, a Parquet file (or some of
    its row groups) or an alert tar. ``model`` is None for alert tars (they mix every model)."""

    form: str
    path: Path
    model: str | None = None
    phot: Path | None = None
    row_groups: tuple[int, ...] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes on disk (both files of a SNANA pair; the whole file for a row-group unit)."""
        return self.path.stat().st_size + (self.phot.stat().st_size if self.phot else 0)

    def __str__(self) -> str:
        extra = f" row groups {list(self.row_groups)}" if self.row_groups is not None else ""
        return f"{self.form}:{self.model or '-'}:{self.path.name}{extra}"


def snana_units(
    root: str | Path, models: Sequence[str] | None = None, *, prefix: str | None = None
) -> list[Unit]:
    """One unit per HEAD/PHOT pair of every model (or of ``models``) of a SNANA tree."""
    names = snana.list_models(root, prefix) if models is None else list(models)
    out = []
    for model in names:
        for pair in snana.file_pairs(snana.model_dir(root, model, prefix)):
            if not pair.phot.exists():
                raise snana.SnanaFileNotFoundError(
                    f"PHOT file not found: {pair.phot} (for {pair.head})"
                )
            out.append(Unit("snana", pair.head, model, phot=pair.phot))
    return out


def parquet_units(
    source: str | Path,
    models: Sequence[str] | None = None,
    *,
    row_groups_per_unit: int | None = None,
) -> list[Unit]:
    """One unit per Parquet file of a directory (or of ``models``); with ``row_groups_per_unit``,
    one unit per that many row groups, for files too big for one worker."""
    if row_groups_per_unit is not None and row_groups_per_unit < 1:
        raise ScaleError(f"row_groups_per_unit must be >= 1, got {row_groups_per_unit!r}")
    source = Path(source)
    if source.is_file():
        files = [(source.stem, source)]
    else:
        names = parquet.list_models(source) if models is None else list(models)
        files = [(m, parquet.parquet_path(source, m)) for m in names]
    out = []
    for model, path in files:
        parquet.scan(path)  # checks the layout now, not on a worker later
        if row_groups_per_unit is None:
            out.append(Unit("parquet", path, model))
            continue
        n = pq.ParquetFile(path).metadata.num_row_groups
        for first in range(0, n, row_groups_per_unit):
            groups = tuple(range(first, min(n, first + row_groups_per_unit)))
            out.append(Unit("parquet", path, model, row_groups=groups))
    return out


def alert_units(
    source: alerts.Source, first_night: int | None = None, last_night: int | None = None
) -> list[Unit]:
    """One unit per alert tar (night), in night order."""
    return [Unit("alerts", p) for p in alerts.night_tars(source, first_night, last_night)]


def units(source: str | Path, form: str | None = None, **kwargs) -> list[Unit]:
    """The units of ``source`` in ``form`` (``snana``, ``parquet`` or ``alerts``); without
    ``form`` it is recognised from the directory (``*.parquet`` files, ``<mjd>.tar`` files, or
    else a SNANA tree). Extra keyword arguments go to the form's function."""
    source = Path(source)
    if form is None:
        if source.is_file():
            form = "parquet" if source.suffix == ".parquet" else "alerts"
        elif not source.is_dir():
            raise ScaleError(f"source {source} is neither a file nor a directory")
        elif any(source.glob("*.parquet")):
            form = "parquet"
        elif any(p.name.endswith(".tar") or ".tar." in p.name for p in source.iterdir()):
            form = "alerts"
        else:
            form = "snana"
    if form == "snana":
        return snana_units(source, **kwargs)
    if form == "parquet":
        return parquet_units(source, **kwargs)
    if form == "alerts":
        return alert_units(source, **kwargs)
    raise ScaleError(f"form must be one of {FORMS}, got {form!r}")


def split(all_units: Sequence[Unit], part: int, nparts: int) -> list[Unit]:
    """The ``part``-th of ``nparts`` disjoint shares of ``all_units`` (round robin over the units
    sorted by size, largest first, so the shares are balanced); for SLURM tasks and array jobs."""
    if not (isinstance(nparts, int) and nparts >= 1 and isinstance(part, int)):
        raise ScaleError(f"part/nparts must be integers with nparts >= 1, got {part!r}/{nparts!r}")
    if not 0 <= part < nparts:
        raise ScaleError(f"part must be in 0..{nparts - 1}, got {part}")
    ordered = sorted(all_units, key=lambda u: (-u.nbytes, u))
    return ordered[part::nparts]


def read_unit(
    unit: Unit, columns: Sequence[str] | None = LIGHTCURVE_COLUMNS
) -> pl.DataFrame | alerts.AlertTables:
    """Read one unit: for SNANA and Parquet, the long light-curve table (``SNID`` + ``columns``,
    one row per point); for an alert tar, its :class:`~elasticc_tutorial.alerts.AlertTables`.

    This is the only function of the package that calls the readers."""
    if unit.form == "snana":
        return snana.read_lightcurves_file(unit.path, unit.phot, columns=columns)
    if unit.form == "parquet":
        if unit.row_groups is None:
            lazy = parquet.scan(unit.path)
            wanted = ["SNID", *(parquet.list_columns(lazy) if columns is None else columns)]
            return parquet.explode(lazy.select(wanted)).collect()
        table = pq.ParquetFile(unit.path).read_row_groups(
            list(unit.row_groups), columns=None if columns is None else ["SNID", *columns]
        )
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)  # a Table converts to a DataFrame
        return parquet.explode(frame)
    if unit.form == "alerts":
        return alerts.read_alerts(unit.path)
    raise ScaleError(f"unit {unit}: unknown form {unit.form!r} (expected one of {FORMS})")
