"""Shared fixtures: offline model hubs, the bundled sample and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never touch the network: a model that is not bundled must fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PIPELINE_KIT_PROGRESS", "text")
# A test that passes no home must not write into the user's default home (a per-user
# folder): the session gets a new temporary folder of its own.
if not os.environ.get("PIPELINE_KIT_HOME"):
    import tempfile

    os.environ["PIPELINE_KIT_HOME"] = tempfile.mkdtemp(prefix="pipeline_kit_home_")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
SHARED_DATA = Path(os.environ.get("PIPELINE_KIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(relative: str) -> Path:
    """Path to a file under ../shared/data, or skip the test (with the reason) when absent.

    In CI (``PIPELINE_KIT_REQUIRE_SERVICES=1``) the skip is a failure: CI has the data.
    """
    p = SHARED_DATA / relative
    if not p.exists():
        pytest.skip(f"shared development data not available: {p} (see data/PROVENANCE.md)")
    return p


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder; skips when it is absent (e.g. on a user's machine)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared development data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample (always present in the repository)."""
    assert SAMPLE_DIR.is_dir(), f"bundled sample missing: {SAMPLE_DIR}"
    return SAMPLE_DIR


LJ_LONG = "speech_long/ljspeech_LJ001-0001-0032_concat_16k.wav"


@pytest.fixture(scope="session")
def lj_transcription(tmp_path_factory) -> Path:
    """LJ's 3:41 transcribed once per session, as the pipeline caches it (by the audio's
    hash and the transcription parameters): for fixtures that test what comes after the
    transcript (the collection, explore, chapters), each seeds its home with a copy
    (:func:`seed_transcription`) instead of transcribing LJ again."""
    import pipeline_kit as pk

    home = tmp_path_factory.mktemp("lj-transcribed")
    pk.run_pipeline(shared_path(LJ_LONG), ["transcription"], home=home, out_dir=home / "out")
    return home / "artifacts" / "transcription"


def seed_transcription(cached: Path, home: Path) -> None:
    """Copy cached transcription artifacts into ``home``: its run finds them by key."""
    import shutil

    shutil.copytree(cached, Path(home) / "artifacts" / "transcription", dirs_exist_ok=True)


# ---------------------------------------------------------------- task stores (issue #9)

POSTGRES_ENV = "PIPELINE_KIT_TEST_POSTGRES_URL"
# Set by .ci/services.sh: there a missing service is a failure, not a skip.
REQUIRE_SERVICES_ENV = "PIPELINE_KIT_REQUIRE_SERVICES"


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    """The reason text of a skipped report (its longrepr is ``(path, line, reason)``)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip_in_ci(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Turn a skip into a failure naming its reason when CI requires everything.

    One place for every kind of skip: missing shared data, ``pytest.importorskip``,
    a ``skipif`` on a missing sample, a missing service. Expected failures stay.
    """
    if os.environ.get(REQUIRE_SERVICES_ENV) != "1" or not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        return
    report.outcome = "failed"
    report.longrepr = (f"skipped in CI: {_skip_reason(report)}\n"
                       f"({REQUIRE_SERVICES_ENV}=1 turns every skip into a failure)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Skips while setting up or running a test fail in CI (see ``_fail_skip_in_ci``)."""
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped at import (``importorskip`` at top level) fails in CI."""
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


def service_missing(reason: str) -> None:
    """Skip the test for a missing external service (a failure in CI, see ``_fail_skip_in_ci``)."""
    pytest.skip(reason)


def postgres_admin_url() -> str:
    """The admin URL of the test PostgreSQL server, or skip (with how to get one)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        service_missing(f"PostgreSQL tests need {POSTGRES_ENV} (an admin postgresql:// URL);"
                        " `source .ci/services.sh` starts a throwaway server")
    return url


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at database ``name`` instead."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


@pytest.fixture
def postgres_url():
    """URL of a fresh, empty PostgreSQL database for one test; dropped (FORCE) afterwards."""
    import uuid

    import psycopg

    admin = postgres_admin_url()
    name = f"pk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request, tmp_path) -> str:
    """Where a test's task store lives: a SQLite file path, then a PostgreSQL database URL.

    Tests taking it run once per backend (the postgres run skips without a server).
    """
    if request.param == "sqlite":
        return str(tmp_path / "tasks.sqlite3")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(autouse=True)
def _fresh_task_fixtures():
    """Reset the named events and call counts of ``task_fixtures`` before each test, and
    after it (which also ends its task functions still blocked, see ``task_fixtures.block``)."""
    import sys

    fx = sys.modules.get("task_fixtures")
    if fx is not None:
        fx.reset()
    yield
    fx = sys.modules.get("task_fixtures")
    if fx is not None:
        fx.reset()
