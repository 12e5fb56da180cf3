"""Versioned schema: created on first use, upgraded step by step."""

import pytest
import sqlalchemy as sa

from xenpool_driver import store as store_mod
from xenpool_driver.store import engine as store_engine
from xenpool_driver.store import migrations, models


@pytest.fixture
def engine(db_url):
    e = store_engine.create_engine(db_url, busy_timeout=30.0)
    yield e
    e.dispose()


def _versions(engine):
    with engine.connect() as conn:
        return [r.version for r in conn.execute(sa.text(
            'SELECT version FROM schema_version ORDER BY version'))]


def _add_note_column(conn):
    conn.execute(sa.text('ALTER TABLE aggregates ADD COLUMN note TEXT'))


#: A step newer than the code's (the next version).
NEXT = migrations.CURRENT_VERSION + 1
STEP_NEXT = migrations.Step(NEXT, 'test: aggregates.note', _add_note_column)


def test_first_use_creates_current_schema(store, engine):
    assert store.schema_version() == migrations.CURRENT_VERSION == 2
    assert _versions(engine) == [1, 2]


def test_upgrade_from_empty_v0_database(engine):
    with engine.connect() as conn:
        assert migrations.current_version(conn) == 0
    assert migrations.upgrade(engine) == (0, 2)
    assert migrations.upgrade(engine) == (2, 2)  # nothing left to do
    assert _versions(engine) == [1, 2]


def test_v2_adds_the_history_to_a_v1_database_and_keeps_its_data(db_url, engine):
    # NOTE: a database made by the release before the history (version 1)
    assert migrations.upgrade(engine, migrations.STEPS[:1]) == (0, 1)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO aggregates (name, created_at) VALUES "
                             "('pool', CURRENT_TIMESTAMP)"))
    assert not sa.inspect(engine).has_table('operations')
    with store_mod.Store(db_url) as s:
        assert s.schema_version() == 2
        assert s.get_aggregate('pool').name == 'pool'
        assert s.history('pool') == []
    assert _versions(engine) == [1, 2]
    assert sa.inspect(engine).has_table('operations')


def test_upgrade_runs_a_newer_step_once_and_keeps_data(db_url, engine):
    with store_mod.Store(db_url) as s:
        s.create_aggregate('pool', {'k': 'v'})
    assert migrations.upgrade(engine, migrations.STEPS + (STEP_NEXT,)) == (
        NEXT - 1, NEXT)
    assert migrations.upgrade(engine, migrations.STEPS + (STEP_NEXT,)) == (
        NEXT, NEXT)
    assert _versions(engine) == list(range(1, NEXT + 1))
    columns = {c['name'] for c in sa.inspect(engine).get_columns('aggregates')}
    assert 'note' in columns
    with engine.connect() as conn:
        assert conn.execute(sa.text('SELECT name FROM aggregates')
                            ).scalar_one() == 'pool'


def test_failed_step_leaves_database_unchanged(db_url, engine):
    store_mod.Store(db_url).close()

    def half_done(conn):
        conn.execute(sa.text('CREATE TABLE half_done (x INTEGER)'))
        raise RuntimeError('step failed')

    with pytest.raises(RuntimeError):
        migrations.upgrade(engine, migrations.STEPS + (
            migrations.Step(NEXT, 'broken', half_done),))
    assert _versions(engine) == list(range(1, NEXT))
    assert not sa.inspect(engine).has_table('half_done')


def test_newer_database_is_refused(db_url, engine):
    migrations.upgrade(engine, migrations.STEPS + (STEP_NEXT,))
    with pytest.raises(store_mod.SchemaError, match='version %d .* up to %d' % (
            NEXT, NEXT - 1)):
        store_mod.Store(db_url)


def test_misnumbered_steps_are_refused(engine):
    with pytest.raises(store_mod.SchemaError, match='numbered'):
        migrations.upgrade(engine, (STEP_NEXT,))
    with engine.connect() as conn:
        assert migrations.current_version(conn) == 0


def test_migrations_produce_the_models(store, engine):
    """The frozen steps and the models describe the same schema."""
    inspector = sa.inspect(engine)
    for table in models.metadata.sorted_tables:
        columns = {c['name'] for c in inspector.get_columns(table.name)}
        assert columns == set(table.columns.keys()), table.name
        pk = inspector.get_pk_constraint(table.name)['constrained_columns']
        assert set(pk) == {c.name for c in table.primary_key}, table.name
