"""Options of the embedded aggregate store (group ``[store]``).

Registering them is explicit (:func:`register_opts` on the caller's own
``ConfigOpts``); importing this module registers nothing, on the global
``cfg.CONF`` neither.

The default connection is a SQLite file in the user's state directory,
computed when it is needed (:func:`connection_url`), never at import time, so
that importing this module touches neither ``$HOME`` nor the file system.
"""

import os

from oslo_config import cfg

from xenpool_driver import conf as xenpool_conf

store_group = cfg.OptGroup(
    'store',
    title='Embedded aggregate store',
    help='Where the xenpool command keeps aggregates and the host inventory '
         'when no compute service owns them.')

#: ``[store] busy_timeout``'s default, also :class:`~.database.Store`'s.
DEFAULT_BUSY_TIMEOUT = 30.0

store_opts = [
    cfg.StrOpt('connection',
               help='SQLAlchemy URL of the aggregate store, e.g. '
                    'postgresql+psycopg://user@db.example.org/xenpool so that '
                    'several operators or services share one database. '
                    'Unset: a SQLite file, '
                    '$XDG_STATE_HOME/xenpool/aggregates.sqlite (by default '
                    '~/.local/state/xenpool/aggregates.sqlite).'),
    cfg.FloatOpt('busy_timeout',
                 default=DEFAULT_BUSY_TIMEOUT,
                 min=0.0,
                 help='Seconds a SQLite transaction waits for another writer '
                      '(thread or process) to finish before giving up.'),
]


def register_opts(conf):
    """Register the ``[store]`` options on ``conf``."""
    # NOTE: a fresh group per ConfigOpts, see xenpool_driver.conf.fresh_group
    conf.register_group(xenpool_conf.fresh_group(store_group))
    conf.register_opts(store_opts, group=store_group.name)


def list_opts():
    """Options for oslo-config-generator: ``[(group, [opts])]``."""
    return [(store_group, store_opts)]


def default_sqlite_path(environ=None):
    """Return the default SQLite file path, expanded now.

    :param environ: mapping used instead of ``os.environ`` (tests).
    :returns: ``$XDG_STATE_HOME/xenpool/aggregates.sqlite``, where an unset
        or relative ``XDG_STATE_HOME`` means ``~/.local/state``.
    """
    environ = os.environ if environ is None else environ
    state = environ.get('XDG_STATE_HOME', '')
    # NOTE: the XDG spec says relative values must be ignored.
    if not state or not os.path.isabs(state):
        home = environ.get('HOME') or os.path.expanduser('~')
        state = os.path.join(home, '.local', 'state')
    return os.path.join(state, 'xenpool', 'aggregates.sqlite')


def connection_url(conf, environ=None):
    """Return the store URL to use: the configured one or the default file.

    :param conf: an oslo.config ``ConfigOpts`` with ``[store]`` registered
        (:func:`register_opts`).
    :param environ: mapping used instead of ``os.environ`` (tests).
    :returns: a SQLAlchemy URL string.
    """
    configured = conf.store.connection
    if configured:
        return configured
    return 'sqlite:///' + default_sqlite_path(environ)
