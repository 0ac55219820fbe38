"""Read ELAsTiCC2 SNANA FITS trees: models, HEAD tables, ``.DUMP`` truth and light curves, as polars.

A tree is a directory of model directories ``<prefix><model>/`` (``ELASTICC2_FINAL_AGN``,
``ELASTICC2_TRAIN_02_SNIa-SALT3``, ``ELASTICC2_TRAIN_01_1percent_KN_K17``, ...), each holding up to
40 pairs ``*-NNNN_HEAD.FITS[.gz]`` / ``*-NNNN_PHOT.FITS[.gz]``, a ``<prefix><model>.DUMP`` truth file,
``.README`` and ``.LIST``.

Light curves come in the schema every reader of the package shares (:mod:`elasticc_tutorial.lightcurves`)::

    read_lightcurves(source, model=None, *, snids=None, columns=None, flags=False, ...)

``source`` is the tree (or ``paths.locate()``'s locations, or a model directory with ``model=None``);
the frame has one row per point: ``SNID`` (Int64), ``MJD``, ``BAND``, ``PHOTFLAG``, ``FLUXCAL``,
``FLUXCALERR`` (or the PHOT ``columns`` asked for, ``"all"`` for every one), objects by SNID, points
in time order; ``flags=True`` adds ``SNR``, ``DETECTED``, ``TRIGGER``, ``SATURATED``.
:func:`read_lightcurves_file` does the same for one HEAD/PHOT pair (the unit a parallel layer maps).

What the readers take care of (the pitfalls of the SNANA format):

* PTROBS_MIN/PTROBS_MAX are 1-based and inclusive: an object's rows are ``phot[MIN-1 : MAX]``;
  each light curve is followed by one separator row (MJD = -777) that belongs to no object; the
  pointers are checked: inside the PHOT table, never over a separator, consistent with NOBS, and
  no two objects sharing a row;
* FITS is big-endian (converted to native before polars sees it); strings are fixed-width and
  blank-padded (``BAND`` ``'u '`` -> ``'u'``); ``SNID`` is a 16-character string (-> Int64);
* the legacy spellings ``FLT`` and ``DECL`` are renamed to ``BAND`` and ``DEC``;
* ``FLUXCAL`` is on the zero point given by the ``ZP_FLUXCAL`` header key, 27.5 when absent (all
  ELAsTiCC files); pass ``zp=`` to rescale to another zero point;
* HEAD MJDs (``PEAKMJD``, ``MJD_TRIGGER``, ...) are float32 as stored (a 0.004 d step at MJD 6e4).

Errors (all name the file or argument and what was expected):

* :class:`SnanaFileNotFoundError` (a FileNotFoundError): tree, model directory, HEAD/PHOT or DUMP
  file missing;
* :class:`SnanaError` (a ValueError) and its subclasses :class:`UnknownModelError`,
  :class:`UnknownSnidError`, :class:`PointerError`; and
  :class:`~elasticc_tutorial.fitstable.FitsFormatError` (a ValueError) for a corrupt or truncated
  file, a missing HDU or missing columns.
"""

from elasticc_tutorial.errors import SnanaError, SnanaFileNotFoundError
from elasticc_tutorial.fitstable import FitsFormatError
from elasticc_tutorial.snana.lightcurves import (
    SEPARATOR_MJD,
    check_pointers,
    default_threads,
    read_lightcurve,
    read_lightcurves,
    read_lightcurves_file,
)
from elasticc_tutorial.snana.tables import (
    read_dump,
    read_head,
    read_head_file,
    read_phot_file,
    read_truth,
)
from elasticc_tutorial.snana.tree import (
    FilePair,
    PointerError,
    UnknownModelError,
    UnknownSnidError,
    detect_prefix,
    file_pairs,
    list_models,
    model_dir,
)

__all__ = [
    "SEPARATOR_MJD",
    "FilePair",
    "FitsFormatError",
    "PointerError",
    "SnanaError",
    "SnanaFileNotFoundError",
    "UnknownModelError",
    "UnknownSnidError",
    "check_pointers",
    "default_threads",
    "detect_prefix",
    "file_pairs",
    "list_models",
    "model_dir",
    "read_dump",
    "read_head",
    "read_head_file",
    "read_lightcurve",
    "read_lightcurves",
    "read_lightcurves_file",
    "read_phot_file",
    "read_truth",
]
