"""The ``xenpool`` application: cliff, its commands, logging and errors.

The commands are the entry points of the namespace :data:`NAMESPACE`
(setup.cfg ``[entry_points]``; ``aggregate_add-host`` is ``aggregate
add-host``). Global options come before the command; each command's own
after it (``xenpool --lab-file lab.json aggregate list -f json``).

Logging is oslo.log's, set up as OpenStack services do
(``oslo_log.log.register_options`` then ``setup``): silent by default (the
one-line error is the operator's message), ``-v`` shows INFO records on
stderr, ``--debug`` DEBUG ones (tracebacks too), ``--log-file F`` writes them
to F instead.
"""

import argparse
import logging
import sys
from importlib import metadata

from cliff import app
from cliff import commandmanager
from oslo_config import cfg
from oslo_log import log as oslo_log

from xenpool_driver import conf as xenpool_conf
from xenpool_driver.cli import base
from xenpool_driver.cli import context as context_mod
from xenpool_driver.cli import errors
from xenpool_driver.cli import progress as progress_mod
from xenpool_driver.store import conf as store_conf

LOG = oslo_log.getLogger(__name__)

NAMESPACE = 'xenpool.cli'

DESCRIPTION = ('Keep host aggregates and XenServer / XCP-ng pools in step, without a '
               'compute service: aggregates live in an embedded store.')


class CommandManager(commandmanager.CommandManager):
    """cliff's command manager, reading the entry points without a cache.

    NOTE: stevedore keeps a cache of entry points keyed on ``sys.path``,
    which an editable install can leave stale (the commands vanish from the
    command); the package metadata is read directly instead.
    """

    def load_commands(self, namespace):
        self.group_list.append(namespace)
        for ep in metadata.entry_points(group=namespace):
            name = ep.name.replace('_', ' ') if self.convert_underscores else ep.name
            self.commands[name] = ep


def epilog(environ=None):
    """``xenpool --help``'s epilog: the store, the lab's timing, the exit codes."""
    return '\n'.join([
        'store: [store] connection, or --store; unset, a SQLite file at %s '
        '($XDG_STATE_HOME/xenpool/aggregates.sqlite, by default '
        '~/.local/state/xenpool/aggregates.sqlite).'
        % store_conf.default_sqlite_path(environ),
        'credentials: --config-file ([xenserver] connection_password), '
        'OS_XENSERVER__CONNECTION_PASSWORD or --lab-file; never an argument.',
        'xapi URLs: a bare address or host name (192.0.2.10, xcp1.example.org, '
        '[fd00::1]) means https://<it>.',
        'lab serve runs at real xapi timing (a join takes tens of seconds) unless '
        '--time-scale is given, e.g. xenpool lab serve --time-scale 0.05.',
        'output: -f table|json|yaml|value|csv and -c COLUMN on every command; with '
        '-f json an error is {"error": {...}} on stderr.',
        '',
        errors.epilog(),
    ])


def version():
    """The package's version (pbr, from its metadata)."""
    import pbr.version
    try:
        return pbr.version.VersionInfo('xenpool_driver').release_string()
    except Exception:  # noqa: BLE001 - NOTE: not installed: no metadata
        return 'unknown'


def wants_json(argv):
    """Whether ``argv`` asks for ``-f json`` or ``yaml`` (errors follow it)."""
    argv = list(argv)
    for i, word in enumerate(argv):
        if word in ('-f', '--format') and i + 1 < len(argv):
            if argv[i + 1] in ('json', 'yaml'):
                return True
        elif word in ('-fjson', '-fyaml', '--format=json', '--format=yaml', '--json'):
            return True
    return False


class XenpoolApp(app.App):
    """The ``xenpool`` command.

    :param context_factory: ``(app) -> Context`` (tests); default: built
        from the global options and the configuration.
    :param progress_factory: ``() -> progress sink`` (tests).
    """

    NAME = 'xenpool'

    def __init__(self, stdin=None, stdout=None, stderr=None, context_factory=None,
                 progress_factory=None, command_manager=None):
        super().__init__(
            description=DESCRIPTION, version=version(),
            command_manager=command_manager or CommandManager(
                NAMESPACE, convert_underscores=True),
            stdin=stdin, stdout=stdout, stderr=stderr, deferred_help=True)
        self.context_factory = context_factory or _default_context
        self.progress_factory = progress_factory or (
            lambda: progress_mod.Progress(stream=self.stderr))
        self.conf = None
        self._ctx = None
        self.json_errors = False

    def build_option_parser(self, description, version, argparse_kwargs=None):
        kwargs = dict(argparse_kwargs or {}, epilog=epilog(), prog=self.NAME,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
        parser = super().build_option_parser(description, version, kwargs)
        for action in parser._actions:
            if '--version' in action.option_strings:
                action.version = '%s %s' % (self.NAME, version)
            if '--debug' in action.option_strings:
                action.help = 'log DEBUG records on stderr (or to --log-file), ' \
                              'tracebacks included'
            if '--log-file' in action.option_strings:
                action.help = 'write the log (INFO, DEBUG with --debug) to this file'
        parser.add_argument('--config-file', action='append', default=[], metavar='PATH',
                            help='configuration file ([xenserver], [store]); may be '
                                 'repeated')
        parser.add_argument('--lab-file', metavar='PATH',
                            help='lab file written by "xenpool lab serve": credentials, '
                                 'CA and host URLs come from it')
        parser.add_argument('--store', dest='store_url', metavar='URL',
                            help='SQLAlchemy URL of the aggregate store (overrides '
                                 '[store] connection)')
        return base.strict(parser)

    # -- running ---------------------------------------------------------------

    def run(self, argv):
        """Run one command; returns its exit status (see :mod:`.errors`)."""
        argv = list(argv)
        self.json_errors = wants_json(argv)
        try:
            try:
                self.options, remainder = self.parser.parse_known_args(argv)
                if self.options.deferred_help:
                    if remainder:
                        remainder.insert(0, 'help')
                    else:
                        self.print_help_if_requested()
                if not remainder:
                    raise errors.UsageError('no command given (see "xenpool --help")')
                self.initialize_app(remainder)
                return self.run_subcommand(remainder)
            except KeyboardInterrupt:
                raise errors.Interrupted(self._interrupted_text(argv))
        except SystemExit as exc:
            # NOTE: --version, --help (argparse and cliff's help end this way)
            return exc.code if isinstance(exc.code, int) else errors.OK
        except BrokenPipeError:
            return errors.FAILURE
        except Exception as exc:  # noqa: BLE001 - NOTE: every error is one line
            return self.fail(exc)
        finally:
            self.close()

    def fail(self, exc):
        """Report ``exc`` (one line, or JSON) and return its exit code."""
        self.close_progress()
        if not isinstance(exc, errors.UsageError):
            LOG.debug('xenpool failed', exc_info=True)
        errors.write(self.stderr, exc, as_json=self.json_errors)
        return errors.exit_code(exc)

    def initialize_app(self, argv):
        self.conf = build_conf(self.options)
        setup_logging(self.conf, self.options)

    def run_subcommand(self, argv):
        try:
            cmd_factory, cmd_name, sub_argv = self.command_manager.find_command(argv)
        except ValueError:
            raise errors.UsageError(_unknown(argv))
        cmd = cmd_factory(self, self.options, cmd_name=cmd_name)
        parser = cmd.get_parser('%s %s' % (self.NAME, cmd_name))
        parsed_args = parser.parse_args(sub_argv)
        if getattr(parsed_args, 'formatter', None) in ('json', 'yaml'):
            self.json_errors = True
        self._aggregate = getattr(parsed_args, 'aggregate', None)
        return cmd.run(parsed_args)

    def _interrupted_text(self, argv):
        # NOTE: an interrupted add or remove keeps its intent record (the
        # workflow only cleans up after errors): reconcile finishes or rolls
        # it back from reality.
        return ('interrupted: the intent record is kept and its lease released; run '
                '"xenpool aggregate reconcile %s"' % (getattr(self, '_aggregate', None)
                                                      or 'NAME'))

    # -- what commands use -------------------------------------------------------

    @property
    def ctx(self):
        """The command's :class:`~.context.Context`, built on first use."""
        if self._ctx is None:
            self._ctx = self.context_factory(self)
        return self._ctx

    def close_progress(self):
        if self._ctx is not None and self._ctx.progress is not None:
            self._ctx.progress.close()

    def close(self):
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.close()


def _default_context(application):
    opts = application.options
    lab = context_mod.LabFile.load(opts.lab_file) if opts.lab_file else None
    return context_mod.Context(application.conf, lab=lab, store_url=opts.store_url,
                               progress=application.progress_factory())


def _unknown(argv):
    """The unknown command, named without repeating any value given."""
    if argv[0].startswith('-'):
        return 'unknown option %s (see "xenpool --help")' % argv[0].split('=', 1)[0]
    words = []
    for word in argv[:3]:
        if word.startswith('-'):
            break
        words.append(word)
    return 'unknown command "%s" (see "xenpool --help")' % ' '.join(words)


def build_conf(options):
    """The command's configuration: [xenserver], [store], oslo.log's options.

    :raises UsageError: a config file cannot be read or used.
    """
    argv = []
    for path in options.config_file:
        argv += ['--config-file', path]
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        return xenpool_conf.build(registrars=[store_conf.register_opts,
                                              oslo_log.register_options],
                                  argv=argv, prog='xenpool')
    except cfg.Error as exc:
        raise errors.UsageError(str(exc))
    except SystemExit:
        raise errors.UsageError('cannot read the configuration files %s'
                                % ', '.join(options.config_file))
    finally:
        # NOTE: register_options adds a stderr handler to a root logger that
        # has none, "until logging is set up": setup_logging decides.
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)


def setup_logging(conf, options):
    """oslo.log as services set it up, when asked for; silent otherwise."""
    if not (options.debug or options.log_file or options.verbose_level >= 2):
        # NOTE: the error line is the operator's message; without a handler
        # Python's last-resort handler would print the workflow's warnings.
        root = logging.getLogger()
        if not root.handlers:
            root.addHandler(logging.NullHandler())
        return
    conf.set_override('debug', bool(options.debug))
    if options.log_file:
        conf.set_override('log_file', options.log_file)
    else:
        conf.set_override('use_stderr', True)
    oslo_log.setup(conf, 'xenpool')


def main(argv=None):
    return XenpoolApp().run(sys.argv[1:] if argv is None else argv)
