"""One family of errors for the whole package.

Every error the package raises on purpose derives from :class:`ElasticcTutorialError`, so a notebook or
script can catch "anything this package refused" in one clause, and the CLI can turn any of them into a
one-line message and an exit status. Each concern has one subclass; the subclasses also derive from the
built-in exception a caller would naturally expect (``FileNotFoundError`` for a missing file,
``ValueError`` for bad content, ``RuntimeError`` for a failed service call), so ``except ValueError``
still works.

Messages name the file, field or argument at fault and say what was expected or what to do next.
"""

from __future__ import annotations

__all__ = [
    "AlertsError",
    "AlertsFileNotFoundError",
    "BookError",
    "DataFileNotFoundError",
    "ElasticcTutorialError",
    "KernelError",
    "LocalTomError",
    "LocateError",
    "ParquetError",
    "ParquetFileNotFoundError",
    "PostgresConnectionError",
    "PostgresError",
    "SampleError",
    "ScaleError",
    "SnanaError",
    "SnanaFileNotFoundError",
    "TomError",
    "TomSettingsError",
]


class ElasticcTutorialError(Exception):
    """Base class of every error this package raises on purpose."""


# -- files and locations -----------------------------------------------------------------------------


class DataFileNotFoundError(ElasticcTutorialError, FileNotFoundError):
    """A data tree, directory or file that should exist does not (the message says where we looked)."""


class LocateError(DataFileNotFoundError):
    """``paths.locate()`` could not find (or was told not to build) the data a caller asked for."""


# -- readers -----------------------------------------------------------------------------------------


class SnanaError(ElasticcTutorialError, ValueError):
    """Bad SNANA input: wrong prefix, malformed DUMP, inconsistent HEAD/PHOT tables, corrupt file."""


class SnanaFileNotFoundError(DataFileNotFoundError):
    """A SNANA tree, model directory or file that should exist does not."""


class ParquetError(ElasticcTutorialError, ValueError):
    """A Parquet file that is not in the ELAsTiCC2 layout, or is corrupt."""


class ParquetFileNotFoundError(DataFileNotFoundError):
    """A Parquet file or directory that should exist does not."""


class AlertsError(ElasticcTutorialError, ValueError):
    """An alert or broker-message tar that cannot be decoded (wrong kind of tar, bad schema, corrupt)."""


class AlertsFileNotFoundError(DataFileNotFoundError):
    """An alert tar or directory that should exist does not."""


# -- services and tools -------------------------------------------------------------------------------


class TomError(ElasticcTutorialError, RuntimeError):
    """A TOM request failed; the message is the server's own (summarised if it was an HTML page).

    Derives from RuntimeError, which the DESC client raises, so existing ``except`` clauses still work.
    ``status`` is the HTTP status (``None`` when no response arrived) and ``page`` the route.
    """

    def __init__(self, message: str, *, status: int | None = None, page: str | None = None):
        super().__init__(message)
        self.status = status
        self.page = page


class TomSettingsError(TomError):
    """A ``DESC_TOM_*`` setting exists but cannot be used (the message names the setting and the fix).

    Never answered by falling back to the local, synthetic TOM: that would hand fake data to someone
    who asked for the real service.
    """


class LocalTomError(TomError):
    """The local TOM could not start (bad port, no sample, its database or server failed); the
    message names the argument or ends with the server's log."""


class SampleError(ElasticcTutorialError, RuntimeError):
    """The synthetic sample cannot be built, or a built sample fails its checks."""


class KernelError(ElasticcTutorialError):
    """A Jupyter kernel cannot be found, installed or removed (the message says why and what to do)."""


class BookError(ElasticcTutorialError):
    """A book task (execute, build, student copies, slides) failed; the message names the notebook."""


class PostgresError(ElasticcTutorialError, RuntimeError):
    """The embedded PostgreSQL cluster cannot be created, started, stopped or replaced."""


class PostgresConnectionError(PostgresError, ConnectionError):
    """A PostgreSQL server cannot be reached or refuses the login (the message never holds a password)."""


class ScaleError(ElasticcTutorialError, ValueError):
    """Whole-campaign processing cannot start: an unknown unit of work, an unusable form, or a SLURM
    setting (account, QOS, constraint) that is missing or malformed; the message names it."""
