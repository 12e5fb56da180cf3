"""Every configuration option of xenpool_driver (oslo.config).

:func:`xenpool_driver.opts.list_opts` feeds ``oslo-config-generator``
(entry point ``oslo.config.opts = xenpool_driver``); ``tox -e genconfig``
regenerates ``etc/xenpool_driver/xenpool_driver.conf.sample``.
"""

from oslo_config import cfg

xenserver_group = cfg.OptGroup(
    'xenserver',
    title='XenServer / XCP-ng pool options',
    help='How the driver reaches xapi and runs pool operations.')

xenserver_opts = [
    cfg.StrOpt('connection_url',
               help='URL of the xapi of this compute host, e.g. '
                    'https://192.0.2.10 . The driver\'s own host is always '
                    'reached here; other hosts come from aggregate metadata, '
                    'from slave_info or from a locator.'),
    cfg.StrOpt('connection_username',
               default='root',
               help='Username for xapi. The same account is used on every '
                    'host of a pool (xapi pools share one user database).'),
    cfg.StrOpt('connection_password',
               secret=True,
               help='Password for xapi. Never logged, never written to '
                    'metadata, never shown in an error.'),
    cfg.FloatOpt('login_timeout',
                 default=10.0,
                 min=0.1,
                 help='Seconds allowed for connecting to xapi and logging in '
                      '(applied to the socket).'),
    cfg.FloatOpt('call_timeout',
                 default=60.0,
                 min=0.1,
                 help='Seconds allowed for one XAPI call to answer (applied to '
                      'the socket). event.from waits add their own timeout to '
                      'this.'),
    cfg.IntOpt('connection_concurrent',
               default=5,
               min=1,
               help='Maximum number of concurrent XAPI sessions per host (size '
                    'of the bounded session pool; the XenAPI SDK session is '
                    'not thread-safe, so each concurrent call needs its own).'),
    cfg.IntOpt('max_redirects',
               default=3,
               min=0,
               help='Most HOST_IS_SLAVE redirects followed for one call (a '
                    'pool has one master: more than one hop only happens '
                    'while the master moves). 0: never follow.'),
    cfg.IntOpt('read_retries',
               default=3,
               min=0,
               help='Retries of a read-only XAPI call (a getter, event.from) '
                    'after connection refused/reset or HOST_STILL_BOOTING, '
                    'within call_timeout. Calls that change a pool are never '
                    'retried.'),
    cfg.IntOpt('login_retries',
               default=4,
               min=0,
               help='Retries of a login after connection refused/reset or '
                    'HOST_STILL_BOOTING (xapi restarting), within '
                    'login_timeout.'),
    cfg.BoolOpt('use_join_force',
                default=False,
                help='Use pool.join_force instead of pool.join: skips xapi\'s '
                     'HOSTS_NOT_HOMOGENEOUS check (CPU vendor, software '
                     'version) and only that check.'),
    cfg.StrOpt('ca_file',
               help='CA bundle used to verify xapi\'s TLS certificates. '
                    'Unset: the system trust store.'),
    cfg.BoolOpt('insecure',
                default=False,
                help='Do not verify xapi\'s TLS certificates. Off by default; '
                     'only for labs.'),
    cfg.FloatOpt('task_timeout',
                 default=900.0,
                 min=0.1,
                 help='Seconds to wait for an asynchronous XAPI task '
                      '(Async.pool.join, Async.pool.eject, ...) before '
                      'cancelling it.'),
    cfg.FloatOpt('live_timeout',
                 default=600.0,
                 min=0.1,
                 help='Seconds to wait, after a join or a master change, until '
                      'the master shows the host enabled and live.'),
    cfg.FloatOpt('lease_renewal_interval',
                 default=15.0,
                 min=0.1,
                 help='Seconds between two renewals of the lease of an '
                      'operation in flight (its intent record): while its '
                      'owner renews it, reconcile from anyone else leaves the '
                      'operation alone.'),
    cfg.FloatOpt('lease_expiry',
                 default=120.0,
                 min=0.2,
                 help='Seconds a lease lasts without renewal. Once it expired '
                      '(the owner died or was cut off), reconcile may take '
                      'the operation over. Must exceed lease_renewal_interval '
                      'several times: real xapi takes about 20 s to join a '
                      'host and as long to restart, and a renewal is one '
                      'metadata write that a busy store may delay.'),
    cfg.IntOpt('pool_error_threshold',
               default=3,
               min=1,
               help='Consecutive failed operations that move an active pool '
                    'to the error state. A success resets the count.'),
]


def fresh_group(group):
    """A copy of ``group`` for one ``ConfigOpts``.

    NOTE: oslo.config keeps option values and overrides on the OptGroup
    object; registering one module-level group on several ``ConfigOpts``
    would let an override on one leak into all the others.
    """
    return cfg.OptGroup(group.name, title=group.title, help=group.help)


def register_opts(conf):
    """Register the ``[xenserver]`` options on ``conf``."""
    conf.register_group(fresh_group(xenserver_group))
    conf.register_opts(xenserver_opts, group=xenserver_group.name)


def build(xenserver=None, registrars=(), argv=(), config_files=(), prog=None):
    """A private, parsed ``ConfigOpts``: the one configuration builder.

    The command, the demo, the driver's snapshot, the tests and the bench all
    build their configuration here, so that each gets the same groups, the
    same parsing and no global state.

    :param xenserver: ``{option: value}`` set on ``[xenserver]`` after
        parsing (overrides: what the caller decided, above any file).
    :param registrars: callables ``register(conf)`` for further groups and
        command-line options (e.g. ``store.conf.register_opts``), run after
        ``[xenserver]`` is registered and before parsing.
    :param argv: command-line arguments to parse.
    :param config_files: config files to read (none by default: nothing is
        read from the machine unless asked).
    :param prog: the program name for usage messages.
    :returns: the new ``ConfigOpts``.
    :raises SystemExit: ``argv`` is not a valid command line (oslo.config).
    :raises cfg.Error: a config file or a value cannot be used.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    for register in registrars:
        register(conf)
    conf(list(argv), project='xenpool', prog=prog,
         default_config_files=list(config_files), default_config_dirs=[])
    for name, value in (xenserver or {}).items():
        conf.set_override(name, value, xenserver_group.name)
    return conf


def snapshot(conf):
    """A private ``ConfigOpts`` holding ``conf``'s current ``[xenserver]`` values.

    NOTE: a compute service's global configuration can be parsed again later
    (another file, a reload); a driver that took a snapshot when it was loaded
    keeps the values it started with, as the service's own drivers do.

    :param conf: a parsed ``ConfigOpts`` with ``[xenserver]`` registered.
    :returns: a new ``ConfigOpts`` with the same ``[xenserver]`` values.
    """
    return build(xenserver={opt.dest: getattr(conf.xenserver, opt.dest)
                            for opt in xenserver_opts})
