"""Fixtures shared by the whole suite."""

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from agentwise.celery import app as celery_app
from billing.plans import ensure_plan_limits
from projects.reference import ensure_model_prices
from tests import clock
from tests.factories import StaffFactory, UserFactory, make_api_key

_clock = None
_djstripe_folder = None


def pytest_configure(config):
    """CI tests the real services: a run there without them fails instead of skipping their tests.

    ``AGENTWISE_TEST_CLOCK`` starts the whole run at that instant (tests/clock.py), before any test module is
    imported, so module-level code reads the same clock as the tests.
    """
    global _clock
    _djstripe_in_one_migration()
    if os.environ.get("CI"):
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise pytest.UsageError(f"CI must run against PostgreSQL and Redis; {', '.join(missing)} not set (.ci/run sets them)")
    try:
        _clock = clock.start()
    except ValueError as error:
        raise pytest.UsageError(f"{clock.CLOCK} must be an ISO 8601 instant such as 2026-12-31T23:59:30Z: {error}") from None


def _djstripe_in_one_migration():
    """dj-stripe's migration history replays each Stripe API version's schema change: its 0002 alone took
    60-260 s per test database on PostgreSQL. The suite creates dj-stripe's tables with one migration
    written now from the installed dj-stripe's models (what its history ends in, for this version);
    our own apps still run their real migrations, so those stay tested."""
    import sys
    import tempfile
    from pathlib import Path

    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState
    from django.db.migrations.writer import MigrationWriter

    global _djstripe_folder
    folder = _djstripe_folder = Path(tempfile.mkdtemp(prefix="agentwise-test-djstripe-"))
    (folder / "djstripe_test_schema").mkdir()
    (folder / "djstripe_test_schema" / "__init__.py").touch()
    sys.path.insert(0, str(folder))
    settings.MIGRATION_MODULES = {**getattr(settings, "MIGRATION_MODULES", {}), "djstripe": "djstripe_test_schema"}
    loader = MigrationLoader(None, ignore_no_migrations=True)  # no database: what makemigrations does, offline
    changes = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(apps), NonInteractiveMigrationQuestioner(specified_apps={"djstripe"})
    ).changes(graph=loader.graph, trim_to_apps={"djstripe"}, convert_apps={"djstripe"})
    for migration in changes.get("djstripe", []):
        writer = MigrationWriter(migration)
        Path(writer.path).write_text(writer.as_string())


def pytest_unconfigure(config):
    global _clock
    if _djstripe_folder is not None:
        import shutil

        shutil.rmtree(_djstripe_folder, ignore_errors=True)
    if _clock is not None:
        _clock.stop()
        _clock = None


def pytest_report_header(config):
    if _clock is not None:
        return f"clock: {clock.CLOCK}={os.environ[clock.CLOCK]} (time runs on from there)"
    return None


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Each test gets fresh uploads and cache (rate-limit counters), and static files without a manifest."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    _clear_cache()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """channels-redis keeps locks bound to the event loop that first used it; each async test has its own loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def _clear_cache():
    # django-redis's clear() is FLUSHDB, which would also wipe the channel layer and broker sharing
    # that Redis; deleting our own key prefix is enough.
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    from agentwise import ratelimits

    ratelimits.reset()


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run in-process in tests, even with REDIS_URL set; test_celery_worker.py uses a real worker."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Reference rows from data migrations, again: a reused test database may have been flushed."""
    with django_db_blocker.unblock():
        _reference_rows()
    yield
    # Async tests leave connections open in asgiref's worker threads (and subprocesses may linger);
    # close them so the test database can be dropped.
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


def _reference_rows() -> None:
    """The rows the data migrations seed: plan limits, model prices, the staff groups."""
    from django.contrib.auth.models import Group, Permission

    from moderation.roles import groups_set

    ensure_plan_limits()
    ensure_model_prices()
    groups_set(Group, Permission)


@pytest.fixture
def reference_data(transactional_db):
    """For transactional tests, whose flush removes the rows the migrations seeded."""
    _reference_rows()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test ends by emptying every table; the tests after it expect the seeded rows. Run one
    after the other, pytest-django puts transactional tests last; spread over workers (pytest-xdist hands out
    whole files), a later file's test can run after one on the same database. Here, after the test's own
    fixtures (the flush included) are torn down."""
    yield
    if nextitem is None:  # the last test: the test database is gone with the session
        return
    marker = item.get_closest_marker("django_db")
    flushed = (marker is not None and marker.kwargs.get("transaction")) or {"transactional_db", "live_server"} & set(
        getattr(item, "fixturenames", ())
    )
    if flushed:
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            _reference_rows()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return StaffFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def user_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_key_for():
    """Returns a function making a raw API key for a user."""

    def make(user, **kwargs):
        return make_api_key(user, name=kwargs.pop("name", "test key"), **kwargs)[1]

    return make


@pytest.fixture
def key_client(user, api_key_for):
    """An API client authenticated as ``user`` by a real API key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user)}")
    return client
