"""Tables of the aggregate store (SQLAlchemy Core, current schema version).

These describe the schema the code works with *now*. Creating and upgrading
a database is the job of :mod:`xenpool_driver.store.migrations`, whose steps
are frozen: a change here needs a new migration step there (a test compares
the two).
"""

import sqlalchemy as sa

NAME_LENGTH = 255

metadata = sa.MetaData()

schema_version = sa.Table(
    'schema_version', metadata,
    # NOTE: one row per applied step (a history), the current version is
    # the highest; an upgrade racing another sees the row and skips.
    sa.Column('version', sa.Integer, primary_key=True, autoincrement=False),
    sa.Column('description', sa.String(NAME_LENGTH), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
)

aggregates = sa.Table(
    'aggregates', metadata,
    sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
    sa.Column('name', sa.String(NAME_LENGTH), nullable=False, unique=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    # NOTE: never reuse an id: an object still held for a deleted aggregate
    # must get NotFound, not write into a new aggregate that got its id.
    sqlite_autoincrement=True,
)

aggregate_metadata = sa.Table(
    'aggregate_metadata', metadata,
    sa.Column('aggregate_id', sa.Integer,
              sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
              primary_key=True),
    sa.Column('key', sa.String(NAME_LENGTH), primary_key=True),
    # NOTE: Text, not String(255): our bookkeeping key holds a JSON intent
    # record that may be longer than the classic 255 characters.
    sa.Column('value', sa.Text, nullable=False),
)

aggregate_hosts = sa.Table(
    'aggregate_hosts', metadata,
    sa.Column('aggregate_id', sa.Integer,
              sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
              primary_key=True),
    sa.Column('host', sa.String(NAME_LENGTH), primary_key=True),
)

hosts = sa.Table(
    'hosts', metadata,
    sa.Column('name', sa.String(NAME_LENGTH), primary_key=True),
    sa.Column('url', sa.Text, nullable=False),
    sa.Column('uuid', sa.String(64), nullable=True),
)

operations = sa.Table(
    'operations', metadata,
    # NOTE: the order operations were recorded in (ids are random).
    sa.Column('seq', sa.Integer, primary_key=True, autoincrement=True),
    sa.Column('id', sa.String(64), nullable=False, unique=True),
    # NOTE: no foreign key: an aggregate's history outlives the aggregate
    # (its name and id are kept as they were).
    sa.Column('aggregate', sa.String(NAME_LENGTH), nullable=False, index=True),
    sa.Column('aggregate_id', sa.Integer, nullable=True, index=True),
    sa.Column('op', sa.String(32), nullable=False),
    sa.Column('host', sa.String(NAME_LENGTH), nullable=False),
    sa.Column('owner', sa.String(NAME_LENGTH), nullable=False),
    sa.Column('user', sa.String(NAME_LENGTH), nullable=True),
    sa.Column('hostname', sa.String(NAME_LENGTH), nullable=True),
    sa.Column('pid', sa.Integer, nullable=True),
    sa.Column('started', sa.Float(precision=53), nullable=False),
    sa.Column('ended', sa.Float(precision=53), nullable=False),
    sa.Column('duration', sa.Float(precision=53), nullable=False),
    sa.Column('outcome', sa.String(16), nullable=False),
    sa.Column('state_after', sa.String(32), nullable=True),
    sa.Column('xapi_code', sa.String(NAME_LENGTH), nullable=True),
    # NOTE: a JSON list of str
    sa.Column('xapi_params', sa.Text, nullable=False),
    sa.Column('task', sa.String(NAME_LENGTH), nullable=True),
    sa.Column('error', sa.Text, nullable=True),
    sa.Column('counted', sa.Boolean, nullable=False),
    sqlite_autoincrement=True,
)
