"""The ``xenpool`` operator commands (everything but ``lab`` and ``demo``).

Parsing is oslo.config's: ``--config-file`` and the environment variables
(``OS_XENSERVER__CONNECTION_PASSWORD``) come with it; sub-commands are one
``SubCommandOpt``. Each command returns an exit status; errors are one line
on stderr with XAPI's code where xapi answered.
"""

import json
import logging
import sys

from oslo_config import cfg

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.cli import context as context_mod
from xenpool_driver.cli import progress as progress_mod
from xenpool_driver.cli import views
from xenpool_driver.store import conf as store_conf

cli_opts = [
    cfg.StrOpt('lab-file', help='Lab file written by "xenpool lab serve": '
               'credentials, CA and host URLs come from it.'),
    # NOTE: dest differs from the name: ``conf.store`` is the [store] group.
    cfg.StrOpt('store', dest='store_url', help='SQLAlchemy URL of the aggregate store '
               '(overrides [store] connection).'),
]


def _add_parsers(subparsers):
    # NOTE: "lab" and "demo" are dispatched before this parser runs (main.py);
    # they are listed here so that "xenpool --help" shows every command.
    subparsers.add_parser('lab', help='simulated XCP-ng lab: xenpool lab serve --help')
    subparsers.add_parser('demo', help='the whole thing on an embedded lab: xenpool demo --help')
    # NOTE: no positional may be called "name": SubCommandOpt stores the
    # sub-command there, and the two would overwrite each other.
    agg = subparsers.add_parser('aggregate', help='manage pool aggregates')
    sub = agg.add_subparsers(dest='action', required=True)
    p = sub.add_parser('create', help='create an aggregate')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('--no-hv-pool', action='store_true',
                   help='a plain aggregate, not a hypervisor pool')
    p = sub.add_parser('list', help='list aggregates')
    p.add_argument('--json', action='store_true')
    p = sub.add_parser('show', help='metadata and live xapi membership side by side')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('--json', action='store_true')
    p = sub.add_parser('delete', help='delete an aggregate with no hosts (dismissed)')
    p.add_argument('aggregate', metavar='NAME')
    p = sub.add_parser('add-host', help='add a host (pool.join)')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('host')
    p.add_argument('--url', help='xapi URL of the host (remembered in the inventory)')
    p.add_argument('--force-join', action='store_true', help='use pool.join_force')
    p = sub.add_parser('remove-host', help='remove a host (pool.eject)')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('host')
    p.add_argument('--force', action='store_true',
                   help='eject even with running VMs resident (they are lost)')
    p.add_argument('--dead', action='store_true',
                   help='the host is dead: forget its record (host.destroy) '
                        'once the master reports it offline')
    p = sub.add_parser('reconcile', help='repair metadata from reality')
    p.add_argument('aggregate', metavar='NAME', nargs='?')
    p.add_argument('--all', action='store_true')
    p.add_argument('--json', action='store_true')
    p = sub.add_parser('reset', help='leave error when metadata and reality agree')
    p.add_argument('aggregate', metavar='NAME')
    p = sub.add_parser('forget-host', help='admin: drop a host\'s record and listing '
                       '(no xapi call; after reconcile showed reality)')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('host')
    p = sub.add_parser('set-state', help='admin: force operational_state '
                       '(after reconcile showed reality)')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('state', choices=sorted(ps.ALL_STATES - {ps.CHANGING}))
    p = subparsers.add_parser('preflight', help='check a host against a pool master')
    p.add_argument('aggregate', metavar='NAME')
    p.add_argument('host')
    p.add_argument('--url')
    p.add_argument('--force-join', action='store_true',
                   help='check as add-host --force-join would (pool.join_force)')
    p.add_argument('--json', action='store_true')
    pl = subparsers.add_parser('pool', help='read a pool straight from xapi')
    psub = pl.add_subparsers(dest='action', required=True)
    p = psub.add_parser('show')
    p.add_argument('--url', required=True)
    p.add_argument('--json', action='store_true')


def build_conf(argv):
    """Parse ``argv`` into a fresh ``ConfigOpts`` (raises SystemExit on usage)."""
    def register_cli(conf):
        conf.register_cli_opts(cli_opts)
        conf.register_cli_opt(cfg.SubCommandOpt('command', handler=_add_parsers))
    return xenpool_conf.build(registrars=[store_conf.register_opts, register_cli],
                              argv=argv, prog='xenpool')


def _out(args, text, data):
    if getattr(args, 'json', False):
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + '\n')
    else:
        sys.stdout.write(text + '\n')


def _aggregate(ctx, name):
    return ctx.store.get_aggregate(name)


def cmd_create(ctx, args):
    metadata = {}
    if not args.no_hv_pool:
        metadata = {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED}
    try:
        existing = ctx.store.get_aggregate(args.aggregate)
    except store_mod.NotFound:
        existing = None
    if existing is not None:
        if existing.metadata.get(ps.KEY) != ps.DISMISSED:
            raise store_mod.Conflict('aggregate %s already exists' % args.aggregate)
        # NOTE: a dismissed aggregate is kept for history; its name is free
        ctx.store.delete_aggregate(existing.id)
    agg = ctx.store.create_aggregate(args.aggregate, metadata)
    sys.stdout.write('created aggregate %s (%s)\n' % (
        agg.name, agg.metadata.get(ps.KEY, 'not a pool')))
    return 0


def cmd_list(ctx, args):
    rows = [{'name': a.name, 'operational_state': a.metadata.get(ps.KEY),
             'hosts': list(a.hosts), 'master': a.metadata.get(bk.MASTER_COMPUTE)}
            for a in ctx.store.list_aggregates()]
    text = '\n'.join('%-20s %-10s %s' % (r['name'], r['operational_state'] or '-',
                                          ', '.join(r['hosts']) or '-') for r in rows)
    _out(args, text or 'no aggregates', rows)
    return 0


def cmd_show(ctx, args):
    agg = _aggregate(ctx, args.aggregate)
    view = views.aggregate_view(ctx, agg)
    _out(args, views.render(view), view)
    return 0


def cmd_delete(ctx, args):
    agg = _aggregate(ctx, args.aggregate)
    ctx.workflow.delete(agg)
    sys.stdout.write('aggregate %s: %s\n' % (agg.name, agg.metadata.get(ps.KEY)))
    return 0


def _result(ctx, text):
    """The result line of a long operation, after its progress display ends.

    NOTE: the bar is on stderr without a newline; written first, the result
    line would be torn by it on a terminal.
    """
    if ctx.progress is not None:
        ctx.progress.close()
    sys.stdout.write(text + '\n')


def _join_force(args):
    """``--force-join`` as the workflow's ``force``: None leaves it to
    ``[xenserver] use_join_force``."""
    return True if args.force_join else None


def cmd_add_host(ctx, args):
    context_mod.check_host_args(args.host, args.url)
    agg = _aggregate(ctx, args.aggregate)
    if args.url:
        ctx.store.set_host_url(args.host, args.url)
    url = ctx.locate(args.host)
    if not url:
        raise exception.XenPoolError(
            'unknown host %s: give --url, or use a lab file naming it' % args.host)
    # NOTE: the workflow lists the host in the store's aggregate once it is
    # a member (and never otherwise): nothing to undo here on failure.
    ctx.workflow.add(agg, args.host, slave_info={'url': url},
                     force=_join_force(args))
    _result(ctx, 'added %s to %s: %s' % (args.host, agg.name, agg.metadata.get(ps.KEY)))
    return 0


def cmd_remove_host(ctx, args):
    # NOTE: a reserved name would make the workflow read (and clear) one of
    # our own metadata keys as if it were a host's uuid.
    context_mod.check_host_args(args.host)
    agg = _aggregate(ctx, args.aggregate)
    if not ctx.workflow.remove(agg, args.host, force=args.force, dead=args.dead):
        _result(ctx, '%s is not a member of %s: nothing to remove' % (args.host, agg.name))
        return 0
    _result(ctx, 'removed %s from %s: %s' % (args.host, agg.name, agg.metadata.get(ps.KEY)))
    return 0


def cmd_forget_host(ctx, args):
    agg = _aggregate(ctx, args.aggregate)
    ctx.workflow.forget_host(agg, args.host)
    sys.stdout.write('forgot %s in %s (no xapi call made): %s\n' % (
        args.host, agg.name, agg.metadata.get(ps.KEY)))
    return 0


def cmd_set_state(ctx, args):
    agg = _aggregate(ctx, args.aggregate)
    old = agg.metadata.get(ps.KEY)
    ctx.workflow.force_state(agg, args.state)
    sys.stdout.write('aggregate %s: operational_state forced from %s to %s\n'
                     % (agg.name, old, args.state))
    return 0


def cmd_reconcile(ctx, args):
    if args.all:
        aggs = ctx.store.list_aggregates()
    elif args.aggregate:
        aggs = [_aggregate(ctx, args.aggregate)]
    else:
        raise exception.XenPoolError('give an aggregate NAME or --all')
    reports = []
    for agg in aggs:
        if not ps.is_hv_pool(agg.metadata) or agg.metadata.get(ps.KEY) == ps.DISMISSED:
            continue
        report = ctx.workflow.reconcile(agg)
        reports.append(views.report_view(agg, report))
    text = '\n'.join(views.render_report(r) for r in reports)
    _out(args, text or 'nothing to reconcile', reports)
    return 0 if all(r['agreed'] for r in reports) else 1


def cmd_reset(ctx, args):
    agg = _aggregate(ctx, args.aggregate)
    report = ctx.workflow.reset(agg)
    sys.stdout.write(views.render_report(views.report_view(agg, report)) + '\n')
    return 0


def cmd_preflight(ctx, args):
    context_mod.check_host_args(args.host, args.url)
    agg = _aggregate(ctx, args.aggregate)
    # NOTE: the workflow's own check of a join (the joiner's host read first,
    # its uuid checked, the same force): what add-host would be refused for.
    url = args.url or ctx.locate(args.host)
    if not url:
        raise exception.XenPoolError('unknown host %s: give --url' % args.host)
    mismatches = ctx.workflow.preflight(agg, args.host, url=url,
                                        force=_join_force(args))
    data = [{'code': m.code, 'params': m.params, 'reason': m.reason} for m in mismatches]
    text = '\n'.join('%s %s: %s' % (m.code, m.params, m.reason) for m in mismatches)
    _out(args, text or '%s can join %s' % (args.host, agg.name), data)
    return 1 if mismatches else 0


def cmd_pool_show(ctx, args):
    context_mod.check_host_args(url=args.url)
    members = ctx.workflow.membership(args.url)
    data = views.membership_view(members)
    _out(args, views.render_membership(data), data)
    return 0


COMMANDS = {
    ('aggregate', 'create'): cmd_create,
    ('aggregate', 'list'): cmd_list,
    ('aggregate', 'show'): cmd_show,
    ('aggregate', 'delete'): cmd_delete,
    ('aggregate', 'add-host'): cmd_add_host,
    ('aggregate', 'remove-host'): cmd_remove_host,
    ('aggregate', 'reconcile'): cmd_reconcile,
    ('aggregate', 'reset'): cmd_reset,
    ('aggregate', 'forget-host'): cmd_forget_host,
    ('aggregate', 'set-state'): cmd_set_state,
    ('preflight', None): cmd_preflight,
    ('pool', 'show'): cmd_pool_show,
}


def error_line(exc):
    """The one line an operator sees for ``exc``."""
    if isinstance(exc, exception.XapiError):
        return 'xapi error %s %s%s' % (exc.code, exc.params,
                                        ' (in %s)' % exc.method if exc.method else '')
    return str(exc)


def main(argv):
    """Run one command; returns its exit status."""
    # NOTE: the error line below is the operator's message; without a handler
    # Python's last-resort handler would print the workflow's warnings too.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    try:
        conf = build_conf(argv)
    except cfg.Error as exc:
        sys.stderr.write('xenpool: %s\n' % exc)
        return 2
    command = conf.command
    args = _Args(command)
    key = (command.name, getattr(command, 'action', None))
    ctx = None
    try:
        lab = context_mod.LabFile.load(conf.lab_file) if conf.lab_file else None
        ctx = context_mod.Context(conf, lab=lab, store_url=conf.store_url,
                                  progress=progress_mod.Progress())
        return COMMANDS[key](ctx, args)
    except exception.XenPoolError as exc:
        sys.stderr.write('xenpool: error: %s\n' % error_line(exc))
        return 1
    except KeyboardInterrupt:
        # NOTE: an interrupted add or remove keeps its intent record (the
        # workflow only cleans up after errors): reconcile finishes or rolls
        # it back from reality.
        sys.stderr.write('xenpool: interrupted: the intent record is kept and its lease '
                         'released; run "xenpool aggregate reconcile %s"\n'
                         % (args.aggregate or 'NAME'))
        return 130
    finally:
        if ctx is not None:
            ctx.close()


class _Args(object):
    """Attribute access to the sub-command's arguments (missing ones are None)."""

    def __init__(self, command):
        self._command = command

    def __getattr__(self, name):
        try:
            return getattr(self._command, name)
        except (AttributeError, cfg.NoSuchOptError):
            return None
