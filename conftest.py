"""Process-wide test set-up, shared by the unit tests and the nbval notebook runs.

A developer's own desc-tom credentials must never reach the tests or the notebooks run by nbval: the
book is validated against the local TOM on the synthetic sample, whose outputs are deterministic.
Kernels started by nbval inherit this process's environment, so clearing it here covers them too.
"""

import os

import pytest

from elasticc_tutorial.book import DATA_ENV_VARS, TOM_ENV_VARS

# Real-data locations ($TD, ELASTICC2_*_DIR, NERSC_HOST) would change what paths.locate() reports in the
# notebooks: clear them too, exactly as `elasticc-tutorial book execute` does (book.notebook_environment).
for _name in (*TOM_ENV_VARS, *DATA_ENV_VARS):
    os.environ.pop(_name, None)
os.environ.setdefault("PYTHONHASHSEED", "0")

# Plots render without a display, identically everywhere.
os.environ.setdefault("MPLBACKEND", "Agg")


#: Test files that use the default sample's PostgreSQL (a TOM on it, or `lab`) besides the notebooks.
#: Single tests elsewhere say so with ``@pytest.mark.default_sample``.
DEFAULT_SAMPLE_FILES = {
    "test_book.py",
    "test_figures_01_02.py",
    "test_figures_03_05.py",
    "test_figures_06_07.py",
    "test_figures_08_10.py",
    "test_teaching.py",
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``--dist loadgroup``) each test file goes whole to one worker, and all
    that uses the default sample's PostgreSQL goes to the same one, in collection order: chapter
    10 copies the sample's database, which PostgreSQL allows only while nobody else is connected,
    and the lifecycle test of `lab` checks that the server stops."""
    for item in items:
        shared = (
            item.path.suffix == ".ipynb"
            or item.path.name in DEFAULT_SAMPLE_FILES
            or item.get_closest_marker("default_sample") is not None
        )
        item.add_marker(pytest.mark.xdist_group("default-sample" if shared else item.path.name))


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
