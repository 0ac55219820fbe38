"""Where the ELAsTiCC2 data live, and why: the one call notebooks use to find data.

:func:`locate` resolves five things, each independently, and records the source of each answer:

========  ===============================================  ==========================
form      directory layout                                 environment variable
========  ===============================================  ==========================
snana     ``ELASTICC2/ELASTICC2_FINAL_<model>/`` (test)     ``ELASTICC2_SNANA_DIR``
train     ``ELASTICC2_TRAINING_SAMPLE_2/ELASTICC2_TRAIN_02_<model>/``  ``ELASTICC2_TRAIN_DIR``
parquet   ``ELASTICC2_parquet/<model>.parquet``            ``ELASTICC2_PARQUET_DIR``
alerts    ``ELASTICC2_ALERTS/<mjd>.tar``                   ``ELASTICC2_ALERTS_DIR``
tom       a URL, or ``"local"`` (the local TOM)             ``DESC_TOM_URL``
========  ===============================================  ==========================

Precedence, first match wins, per form:

1. an explicit argument of :func:`locate`;
2. the form's own environment variable (table above);
3. ``$TD/<directory>`` when ``$TD`` is set and that directory exists (``TD`` is the parent of
   ``ELASTICC2/`` and ``ELASTICC2_parquet/``, the variable the DESC ``read_snana`` library and the
   sprint-week notebooks honour);
4. the NERSC copies under ``/global/cfs/cdirs/`` when they exist (``$ELASTICC_TUTORIAL_NERSC_ROOT``
   stands in for ``/``, so a fake tree can play NERSC in tests);
5. the offline sample: ``$ELASTICC_TUTORIAL_SAMPLE`` or ``<user cache dir>/sample-v<N>``, built on
   first use by :func:`elasticc_tutorial.sample.build` (unless ``build=False``).

The TOM follows one rule (:func:`elasticc_tutorial.tom.settings.choose_tom`): the local synthetic TOM
served from the sample only when no ``DESC_TOM_*`` setting exists at all; otherwise the TOM those
settings name, and any unusable setting raises :class:`~elasticc_tutorial.errors.TomSettingsError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from elasticc_tutorial.errors import LocateError, TomSettingsError
from elasticc_tutorial.paths.sample import (
    SAMPLE_ENV,
    SAMPLE_LAYOUT_VERSION,
    is_complete_sample,
    is_outdated_sample,
    sample_dir,
    sample_location,
    sample_version,
)
from elasticc_tutorial.tom.settings import DESC_TOM_URL, LOCAL_TOM, TomLocation, choose_tom

__all__ = [
    "DESC_TOM_URL",
    "ENV_VARS",
    "LOCAL_TOM",
    "NERSC_PATHS",
    "NERSC_ROOT_ENV",
    "SAMPLE_ENV",
    "SAMPLE_LAYOUT_VERSION",
    "DataLocations",
    "LocateError",
    "Location",
    "TomLocation",
    "TomSettingsError",
    "add_cli",
    "is_complete_sample",
    "locate",
    "nersc_root",
    "sample_dir",
    "sample_version",
]

#: Stands in for "/" when looking for the NERSC paths (tests point it at a fake tree).
NERSC_ROOT_ENV = "ELASTICC_TUTORIAL_NERSC_ROOT"
#: The DESC variable: parent of ELASTICC2/, ELASTICC2_parquet/ ...
TD_ENV = "TD"
SNANA_PREFIX = "ELASTICC2_FINAL_"
TRAIN_PREFIX = "ELASTICC2_TRAIN_02_"

#: The four on-disk forms, in table order.
FORMS = ("snana", "train", "parquet", "alerts")
#: Environment variable of each form (and of the TOM URL).
ENV_VARS = {
    "snana": "ELASTICC2_SNANA_DIR",
    "train": "ELASTICC2_TRAIN_DIR",
    "parquet": "ELASTICC2_PARQUET_DIR",
    "alerts": "ELASTICC2_ALERTS_DIR",
    "tom": "DESC_TOM_URL",
}
#: Directory name of each form under $TD and under a sample root.
DIR_NAMES = {
    "snana": "ELASTICC2",
    "train": "ELASTICC2_TRAINING_SAMPLE_2",
    "parquet": "ELASTICC2_parquet",
    "alerts": "ELASTICC2_ALERTS",
}
#: NERSC candidates of each form relative to the root, in order of preference. The desc-td copies are
#: the published ones (sprint-week slides); lsst/groups/TD is the TD default of the demo notebooks.
NERSC_PATHS = {
    "snana": (
        "global/cfs/cdirs/desc-td/ELASTICC2",
        "global/cfs/cdirs/lsst/groups/TD/ELASTICC2",
    ),
    "train": ("global/cfs/cdirs/lsst/www/DESC_TD_PUBLIC/ELASTICC/ELASTICC2_TRAINING_SAMPLE_2",),
    "parquet": (
        "global/cfs/cdirs/desc-td/ELASTICC2_parquet",
        "global/cfs/cdirs/lsst/groups/TD/ELASTICC2_parquet",
    ),
    "alerts": ("global/cfs/cdirs/desc-td/ELASTICC2_ALERTS",),
}
LABELS = {
    "snana": "SNANA FITS (test set)",
    "train": "SNANA FITS (training set)",
    "parquet": "Parquet",
    "alerts": "alert tarballs",
    "tom": "TOM",
    "sample": "sample",
}


@dataclass(frozen=True)
class Location:
    """One data directory and why it was chosen.

    Usable as a path: ``loc.parquet / "SNIa-SALT3.parquet"``, ``os.fspath(loc.snana)``.
    """

    path: Path
    #: ``"argument"``, ``"environment"``, ``"TD"``, ``"NERSC"`` or ``"sample"``.
    source: str
    #: Human-readable reason, e.g. ``"$ELASTICC2_PARQUET_DIR"``.
    detail: str

    @property
    def exists(self) -> bool:
        """Whether the directory exists (a sample that is not built yet does not)."""
        return self.path.is_dir()

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __truediv__(self, other: str | os.PathLike[str]) -> Path:
        return self.path / other

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True, repr=False)
class DataLocations:
    """Where each form of the ELAsTiCC2 data lives; ``print()`` it (or just display it) for a table."""

    snana: Location
    train: Location
    parquet: Location
    alerts: Location
    tom: TomLocation
    #: The sample root, when any form (or the local TOM) uses it; else None.
    sample: Location | None
    at_nersc: bool
    #: Things the user may want to know (e.g. "$TD is set but $TD/ELASTICC2_ALERTS does not exist").
    notes: tuple[str, ...] = field(default=())
    snana_prefix: str = SNANA_PREFIX
    train_prefix: str = TRAIN_PREFIX

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(form, location, source, detail) for every entry, in table order."""
        out = [
            (
                LABELS[f],
                str(loc.path),
                loc.source,
                loc.detail + ("" if loc.exists else " (missing)"),
            )
            for f, loc in ((f, getattr(self, f)) for f in FORMS)
        ]
        tom_detail = self.tom.detail + (f", as {self.tom.username}" if self.tom.username else "")
        out.append((LABELS["tom"], self.tom.url, self.tom.source, tom_detail))
        if self.sample is not None:
            state = (
                "not built"
                if not is_complete_sample(self.sample.path)
                else "outdated: made by an older simulator"
                if is_outdated_sample(self.sample.path)
                else "complete"
            )
            out.append(
                (
                    LABELS["sample"],
                    str(self.sample.path),
                    self.sample.source,
                    f"{self.sample.detail} ({state})",
                )
            )
        return out

    def table(self) -> str:
        """A fixed-width text table of :meth:`rows`, followed by the notes."""
        header = ("form", "location", "source", "why")
        rows = [header, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
            for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[3]))
        lines += [f"note: {n}" for n in self.notes]
        lines += [self.tom_line(), self.summary()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (paths as strings)."""
        out: dict[str, object] = {
            f: {
                "path": str(getattr(self, f).path),
                "source": getattr(self, f).source,
                "detail": getattr(self, f).detail,
                "exists": getattr(self, f).exists,
            }
            for f in FORMS
        }
        out["tom"] = self.tom.to_dict()
        out["summary"] = [self.tom_line(), self.summary()]
        out["sample"] = None if self.sample is None else str(self.sample.path)
        out["at_nersc"] = self.at_nersc
        out["notes"] = list(self.notes)
        out["snana_prefix"] = self.snana_prefix
        out["train_prefix"] = self.train_prefix
        return out

    def model_dir(self, model: str, *, training: bool = False) -> Path:
        """The SNANA directory of one model, e.g. ``.../ELASTICC2/ELASTICC2_FINAL_SNIa-SALT3``."""
        if training:
            return self.train.path / f"{self.train_prefix}{model}"
        return self.snana.path / f"{self.snana_prefix}{model}"

    def parquet_file(self, model: str) -> Path:
        """The Parquet file of one model, e.g. ``.../ELASTICC2_parquet/SNIa-SALT3.parquet``."""
        return self.parquet.path / f"{model}.parquet"

    def tom_line(self, served_at: str | None = None) -> str:
        """The one line naming the TOM (the same words as ``tom.connect()`` and ``doctor``)."""
        version = sample_version(self.sample.path) if self.sample is not None else None
        return self.tom.line(served_at=served_at, sample_version=version)

    def summary(self) -> str:
        """One line naming where the data come from, e.g. ``data: synthetic sample 0.1.0/3b103804
        (snana, train, parquet, alerts)`` or ``data: NERSC (snana, train, parquet, alerts)``."""
        groups: dict[str, list[str]] = {}
        for form in FORMS:
            loc = getattr(self, form)
            if loc.source == "sample":
                version = sample_version(loc.path.parent) or "not built yet"
                key = f"synthetic sample {version}"
            elif loc.source in ("NERSC", "TD"):
                key = "$TD" if loc.source == "TD" else "NERSC"
            else:
                key = loc.detail
            groups.setdefault(key, []).append(form)
        return "data: " + "; ".join(f"{key} ({', '.join(forms)})" for key, forms in groups.items())

    @property
    def uses_sample(self) -> bool:
        """True when any form, or the TOM, comes from the offline sample."""
        return self.sample is not None

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"DataLocations(at_nersc={self.at_nersc})\n{self.table()}"

    def _repr_pretty_(self, p, cycle) -> None:  # IPython/Jupyter display
        p.text(self.table())


def nersc_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The directory standing in for "/" when looking for NERSC paths."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(NERSC_ROOT_ENV) or "/")


def _explicit(form: str, value: str | os.PathLike[str], what: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_dir():
        raise LocateError(
            f"{what} gives {LABELS[form]} directory {path!s}, which does not exist or is not a directory; "
            f"expected an existing directory laid out like {DIR_NAMES[form]}/"
        )
    return path.resolve()


def locate(
    *,
    snana: str | os.PathLike[str] | None = None,
    train: str | os.PathLike[str] | None = None,
    parquet: str | os.PathLike[str] | None = None,
    alerts: str | os.PathLike[str] | None = None,
    tom_url: str | None = None,
    build: bool = True,
    nersc_root_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> DataLocations:
    """Find every form of the ELAsTiCC2 data and the TOM (see the module docstring for the rules).

    Parameters
    ----------
    snana, train, parquet, alerts
        Explicit directories; they win over everything and must exist.
    tom_url
        Explicit TOM URL (or ``"local"``); wins over ``DESC_TOM_URL``.
    build
        Build the offline sample when something falls back to it and it is not built yet. With
        ``build=False`` nothing is ever built; the sample entries then report it as missing.
    nersc_root_dir
        Stand-in for "/" when looking for the NERSC paths (default ``$ELASTICC_TUTORIAL_NERSC_ROOT`` or "/").
    progress
        Show the sample builder's progress bars.

    Raises
    ------
    LocateError
        An argument or form environment variable names a directory that does not exist.
    TomSettingsError
        A ``DESC_TOM_*`` setting exists but cannot be used (never answered with the local TOM).
    """
    root = nersc_root(nersc_root_dir)
    args = {"snana": snana, "train": train, "parquet": parquet, "alerts": alerts}
    notes: list[str] = []
    at_nersc = bool(os.environ.get("NERSC_HOST")) or any(
        (root / rel).is_dir() for rels in NERSC_PATHS.values() for rel in rels
    )
    found = {form: _find_form(form, args[form], root, notes) for form in FORMS}
    tom = choose_tom(tom_url)
    sample: Location | None = None
    if any(v is None for v in found.values()) or tom.is_local:
        sdir, sdetail = sample_location(build=build, progress=progress, notes=notes)
        sample = Location(sdir, "sample", sdetail)
        for form in FORMS:
            if found[form] is None:
                found[form] = Location(sample.path / DIR_NAMES[form], "sample", sample.detail)
    return DataLocations(**found, tom=tom, sample=sample, at_nersc=at_nersc, notes=tuple(notes))  # type: ignore[arg-type]


def _find_form(
    form: str, arg: str | os.PathLike[str] | None, root: Path, notes: list[str]
) -> Location | None:
    """One form's directory by precedence (argument, variable, $TD, NERSC), or None for the sample."""
    env = os.environ
    var = ENV_VARS[form]
    if arg is not None:
        return Location(_explicit(form, arg, f"argument {form}="), "argument", f"{form}= argument")
    if env.get(var):
        return Location(_explicit(form, env[var], f"${var}"), "environment", f"${var}")
    td = env.get(TD_ENV)
    if td:
        cand = Path(td).expanduser() / DIR_NAMES[form]
        if cand.is_dir():
            return Location(cand, "TD", f"$TD/{DIR_NAMES[form]}")
        notes.append(f"$TD is set but {cand} does not exist; not using it for {LABELS[form]}")
    nersc_host = env.get("NERSC_HOST")
    hit = next((root / rel for rel in NERSC_PATHS[form] if (root / rel).is_dir()), None)
    if hit is not None:
        return Location(
            hit, "NERSC", f"NERSC_HOST={nersc_host}" if nersc_host else "NERSC path exists"
        )
    if nersc_host:
        notes.append(
            f"at NERSC but /{NERSC_PATHS[form][0]} is not readable (are you in the desc-td / lsst "
            f"group?); using the sample for {LABELS[form]}"
        )
    return None


# ---------------------------------------------------------------------------------------------------
# CLI: elasticc-tutorial where


def add_cli(subparsers) -> None:
    """Register ``elasticc-tutorial where``."""
    p = subparsers.add_parser(
        "where",
        help="show where each form of the data is and why (builds the sample on first use)",
        description=(
            "Print where the SNANA FITS test and training sets, the Parquet files, the alert tarballs "
            "and the TOM are, and why (argument, environment variable, $TD, NERSC or the offline sample)."
        ),
    )
    for form in FORMS:
        p.add_argument(
            f"--{form}", metavar="DIR", help=f"{LABELS[form]} directory (${ENV_VARS[form]})"
        )
    p.add_argument("--tom-url", metavar="URL", help="TOM URL or 'local' ($DESC_TOM_URL)")
    p.add_argument("--no-build", action="store_true", help="never build the sample")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cli_where)


def _cli_where(args) -> int:
    locs = locate(
        snana=args.snana,
        train=args.train,
        parquet=args.parquet,
        alerts=args.alerts,
        tom_url=args.tom_url,
        build=not args.no_build,
    )
    print(json.dumps(locs.to_dict(), indent=2) if args.json else locs.table())
    return 0
