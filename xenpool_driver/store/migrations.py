"""Versioned schema of the aggregate store.

The database records every applied step in the ``schema_version`` table; the
current version is the highest one. :func:`upgrade` applies, in order and in
one transaction, every step of :data:`STEPS` newer than the database. An
empty database is version 0, so "schema created on first use" is simply the
upgrade from 0.

To change the schema: change :mod:`~xenpool_driver.store.models`, then append
a step (version ``CURRENT_VERSION + 1``) that migrates a database of the
previous version. Never edit a released step: databases in the field were
made by it.
"""

import collections
import datetime

import sqlalchemy as sa

from xenpool_driver.store import errors

Step = collections.namedtuple('Step', 'version description apply')
Step.__doc__ = """One migration step.

:ivar version: the schema version the step produces (1, 2, ...).
:ivar description: one line for the ``schema_version`` table.
:ivar apply: ``apply(connection)``; runs inside the upgrade transaction.
"""

# NOTE: an arbitrary constant; pg_advisory_xact_lock takes a bigint. It
# serialises concurrent first uses of one PostgreSQL database by several
# services (two CREATE TABLE of one name would otherwise fail).
_PG_LOCK_KEY = 0x78656E706F6F6C  # "xenpool"

_version_table = sa.table('schema_version', sa.column('version'),
                          sa.column('description'), sa.column('applied_at'))


def _v1_initial_schema(conn):
    """Create the version-1 tables (frozen: do not change)."""
    meta = sa.MetaData()
    sa.Table('schema_version', meta,
             sa.Column('version', sa.Integer, primary_key=True,
                       autoincrement=False),
             sa.Column('description', sa.String(255), nullable=False),
             sa.Column('applied_at', sa.DateTime(timezone=True),
                       nullable=False))
    sa.Table('aggregates', meta,
             sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
             sa.Column('name', sa.String(255), nullable=False, unique=True),
             sa.Column('created_at', sa.DateTime(timezone=True),
                       nullable=False),
             sqlite_autoincrement=True)
    sa.Table('aggregate_metadata', meta,
             sa.Column('aggregate_id', sa.Integer,
                       sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
                       primary_key=True),
             sa.Column('key', sa.String(255), primary_key=True),
             sa.Column('value', sa.Text, nullable=False))
    sa.Table('aggregate_hosts', meta,
             sa.Column('aggregate_id', sa.Integer,
                       sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
                       primary_key=True),
             sa.Column('host', sa.String(255), primary_key=True))
    sa.Table('hosts', meta,
             sa.Column('name', sa.String(255), primary_key=True),
             sa.Column('url', sa.Text, nullable=False),
             sa.Column('uuid', sa.String(64), nullable=True))
    meta.create_all(conn)


def _v2_operations(conn):
    """Create the ``operations`` table: the history (frozen: do not change)."""
    meta = sa.MetaData()
    sa.Table('operations', meta,
             sa.Column('seq', sa.Integer, primary_key=True, autoincrement=True),
             sa.Column('id', sa.String(64), nullable=False, unique=True),
             sa.Column('aggregate', sa.String(255), nullable=False, index=True),
             sa.Column('aggregate_id', sa.Integer, nullable=True, index=True),
             sa.Column('op', sa.String(32), nullable=False),
             sa.Column('host', sa.String(255), nullable=False),
             sa.Column('owner', sa.String(255), nullable=False),
             sa.Column('user', sa.String(255), nullable=True),
             sa.Column('hostname', sa.String(255), nullable=True),
             sa.Column('pid', sa.Integer, nullable=True),
             sa.Column('started', sa.Float(precision=53), nullable=False),
             sa.Column('ended', sa.Float(precision=53), nullable=False),
             sa.Column('duration', sa.Float(precision=53), nullable=False),
             sa.Column('outcome', sa.String(16), nullable=False),
             sa.Column('state_after', sa.String(32), nullable=True),
             sa.Column('xapi_code', sa.String(255), nullable=True),
             sa.Column('xapi_params', sa.Text, nullable=False),
             sa.Column('task', sa.String(255), nullable=True),
             sa.Column('error', sa.Text, nullable=True),
             sa.Column('counted', sa.Boolean, nullable=False),
             sqlite_autoincrement=True)
    meta.create_all(conn)


#: Every step, oldest first; the last one's version is the current version.
STEPS = (
    Step(1, 'initial schema: aggregates, metadata, hosts, inventory',
         _v1_initial_schema),
    Step(2, 'operations: the history of every operation', _v2_operations),
)

CURRENT_VERSION = STEPS[-1].version


def current_version(conn):
    """Return the schema version of the database behind ``conn``.

    :param conn: a SQLAlchemy ``Connection``.
    :returns: 0 when the database has no ``schema_version`` table (empty),
        else the highest version recorded.
    """
    if not sa.inspect(conn).has_table('schema_version'):
        return 0
    version = conn.execute(sa.select(sa.func.max(_version_table.c.version))
                           ).scalar()
    return version or 0


def _check_steps(steps):
    versions = [s.version for s in steps]
    if versions != list(range(1, len(steps) + 1)):
        raise errors.SchemaError('migration steps must be numbered 1..%d in '
                                 'order, got %s' % (len(steps), versions))


def _lock(conn):
    if conn.dialect.name == 'postgresql':
        conn.execute(sa.text('SELECT pg_advisory_xact_lock(:key)'),
                     {'key': _PG_LOCK_KEY})
    # NOTE: on SQLite the transaction began with BEGIN IMMEDIATE (see
    # engine.py), which already excludes every other writer.


def upgrade(engine, steps=None):
    """Bring the database to the newest version of ``steps``.

    Pre-condition: the database is empty or was made by these steps.
    Post-condition: every step newer than the database has run, each one
    recorded in ``schema_version``, all in one transaction (on backends with
    transactional DDL - SQLite and PostgreSQL - a failed step leaves the
    database as it was).

    :param engine: a SQLAlchemy ``Engine`` (see :mod:`.engine` for SQLite).
    :param steps: the ordered steps; default :data:`STEPS`.
    :returns: ``(old_version, new_version)``.
    :raises SchemaError: the steps are misnumbered, or the database is newer
        than the code (a newer release migrated it).
    """
    steps = STEPS if steps is None else tuple(steps)
    _check_steps(steps)
    target = steps[-1].version if steps else 0
    with engine.begin() as conn:
        _lock(conn)
        old = current_version(conn)
        if old > target:
            raise errors.SchemaError(
                'the store schema is version %d but this code knows only up '
                'to %d: upgrade xenpool_driver' % (old, target))
        for step in steps[old:]:
            step.apply(conn)
            conn.execute(sa.insert(_version_table).values(
                version=step.version, description=step.description,
                applied_at=datetime.datetime.now(datetime.timezone.utc)))
    return old, target
