"""Process-wide test set-up, shared by the unit tests and the nbval notebook runs.

A developer's own desc-tom credentials must never reach the tests or the notebooks run by nbval: the
book is validated against the local TOM on the synthetic sample, whose outputs are deterministic.
Kernels started by nbval inherit this process's environment, so clearing it here covers them too.
"""

import os

from elasticc_tutorial.book import DATA_ENV_VARS, TOM_ENV_VARS

# Real-data locations ($TD, ELASTICC2_*_DIR, NERSC_HOST) would change what paths.locate() reports in the
# notebooks: clear them too, exactly as `elasticc-tutorial book execute` does (book.notebook_environment).
for _name in (*TOM_ENV_VARS, *DATA_ENV_VARS):
    os.environ.pop(_name, None)
os.environ.setdefault("PYTHONHASHSEED", "0")

# Plots render without a display, identically everywhere.
os.environ.setdefault("MPLBACKEND", "Agg")


#: What uses the default sample's PostgreSQL (a TOM on it, or `lab`) besides the notebooks: whole
#: test files, and single tests by their id.
DEFAULT_SAMPLE_FILES = {
    "tests/test_book.py",
    "tests/test_figures_01_02.py",
    "tests/test_figures_03_05.py",
    "tests/test_figures_06_07.py",
    "tests/test_figures_08_10.py",
    "tests/test_teaching.py",
}
DEFAULT_SAMPLE_TESTS = (
    "tests/test_lifecycle.py::test_lab_stops_jupyter_the_tom_and_postgres_on_a_signal",
)


def xdist_scope(nodeid: str) -> str:
    """The unit of work a pytest-xdist worker runs whole and in order: its test file, except that
    everything using the default sample's PostgreSQL is one unit. Chapter 10 copies the sample's
    database, which PostgreSQL allows only while nobody else is connected, and the lifecycle test
    of `lab` checks that the server stops; nbval's cells of one notebook share one kernel."""
    path = nodeid.split("::", 1)[0]
    if (
        path.endswith(".ipynb")
        or path in DEFAULT_SAMPLE_FILES
        or nodeid.startswith(DEFAULT_SAMPLE_TESTS)
    ):
        return "default-sample"
    return path


def pytest_xdist_make_scheduler(config, log):
    """Schedule by :func:`xdist_scope` (xdist's own ``loadgroup`` marks do not reach the test ids
    under pytest 9)."""
    from xdist.scheduler import LoadScopeScheduling

    class SampleAwareScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return SampleAwareScheduling(config, log)


def pytest_collection_finish(session):
    """Build the offline sample before the first notebook runs, if a collected notebook needs it
    (its metadata ``elasticc_tutorial.requires``; see ``book.notebook_requires``).

    The notebooks find the sample with ``paths.locate()`` and the local TOM through
    ``tom.connect()``; their stored outputs were made with the sample already built
    (``elasticc-tutorial book execute`` builds it first), so a first-use build inside a kernel
    would print progress that nbval reports as a mismatch.
    """
    from elasticc_tutorial import book

    notebooks = {item.path for item in session.items if item.path.suffix == ".ipynb"}
    if any("sample" in book.notebook_requires(nb) for nb in notebooks):
        book.ensure_sample()


def pytest_sessionfinish(session, exitstatus):
    """No server of ours survives the session: stop every local TOM this process started (each
    stops its PostgreSQL), then let go of every embedded PostgreSQL server this process holds
    (each stops unless another process still uses it)."""
    import sys

    if "elasticc_tutorial.localtom" in sys.modules:
        sys.modules["elasticc_tutorial.localtom"].stop_all()
    if "elasticc_tutorial.pg" in sys.modules:
        sys.modules["elasticc_tutorial.pg"].release_all()
