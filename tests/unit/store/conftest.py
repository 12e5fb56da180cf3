"""Fixtures: a store on SQLite (always) and on PostgreSQL (when reachable).

PostgreSQL: ``XENPOOL_TEST_POSTGRES_URL`` or the local server's ``test``
database. Each test gets its own schema (selected through ``search_path`` in
the URL) that is dropped afterwards. When the server cannot be reached the
PostgreSQL tests are skipped with the reason - or fail, when
``XENPOOL_REQUIRE_POSTGRES=1`` (as ``.ci/run`` sets).
"""

import os
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from xenpool_driver import store as store_mod

DEFAULT_POSTGRES_URL = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
BACKENDS = ('sqlite', 'postgresql')


def postgres_url():
    return os.environ.get('XENPOOL_TEST_POSTGRES_URL') or DEFAULT_POSTGRES_URL


@pytest.fixture(scope='session')
def pg_admin():
    """An engine on the PostgreSQL test database, or skip / fail."""
    url = sa.engine.make_url(postgres_url())
    engine = sa.create_engine(url, poolclass=sa_pool.NullPool,
                              connect_args={'connect_timeout': 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text('SELECT 1'))
    except Exception as e:  # noqa: BLE001 - NOTE: any failure: no usable server
        engine.dispose()
        reason = 'PostgreSQL at %s is unreachable (%s)' % (
            url.render_as_string(hide_password=True),
            str(getattr(e, 'orig', e)).strip().splitlines()[0])
        if os.environ.get('XENPOOL_REQUIRE_POSTGRES') == '1':
            pytest.fail(reason + '; XENPOOL_REQUIRE_POSTGRES=1 requires it',
                        pytrace=False)
        pytest.skip(reason + '; start it or set XENPOOL_TEST_POSTGRES_URL '
                    '(.ci/run requires it)')
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin):
    """URL of a fresh, empty PostgreSQL schema, dropped after the test."""
    schema = 'xenpool_test_%s' % uuid.uuid4().hex[:16]
    with pg_admin.begin() as conn:
        conn.execute(sa.text('CREATE SCHEMA "%s"' % schema))
    url = sa.engine.make_url(postgres_url()).update_query_dict(
        {'options': '-csearch_path=%s' % schema})
    yield url.render_as_string(hide_password=False)
    with pg_admin.begin() as conn:
        conn.execute(sa.text('DROP SCHEMA IF EXISTS "%s" CASCADE' % schema))


@pytest.fixture
def sqlite_url(tmp_path):
    """URL of a fresh SQLite file (its directory is created by the store)."""
    return 'sqlite:///%s' % (tmp_path / 'state' / 'aggregates.sqlite')


@pytest.fixture(params=BACKENDS)
def db_url(request):
    """URL of an empty database, once per backend."""
    return request.getfixturevalue('%s_url' % ('pg' if request.param ==
                                                'postgresql' else 'sqlite'))


@pytest.fixture
def store(db_url):
    """An open :class:`Store` on an empty database, once per backend."""
    s = store_mod.Store(db_url)
    yield s
    s.close()

