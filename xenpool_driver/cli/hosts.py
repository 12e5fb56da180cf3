"""``xenpool aggregate add-host`` / ``remove-host``: the pool operations.

Both take ``--dry-run``: the workflow's plan (``Workflow.plan_add`` /
``plan_remove``: what would be refused, checked, called, designated and
destroyed) is printed and nothing changes. ``remove-host`` shows what the
eject destroys (the VMs and VDIs of the host's local SRs: xapi wipes them)
and asks; ``--yes`` answers for scripts; without a terminal to ask and
without ``--yes`` it is refused (exit 3) and nothing changes.
"""

import time

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.cli import base
from xenpool_driver.cli import context as context_mod
from xenpool_driver.cli import errors
from xenpool_driver.cli import views

#: Calls of a plan that destroy something on the host (what is asked for).
DESTRUCTIVE_CALLS = ('pool.eject', 'host.destroy')


def add_target(parser):
    parser.add_argument('aggregate', metavar='NAME', help='the aggregate')
    parser.add_argument('host', metavar='HOST', help='the compute host name')
    return parser


def join_force(args):
    """``--force-join`` as the workflow's ``force``: None leaves it to
    ``[xenserver] use_join_force``."""
    return True if args.force_join else None


def render_plan(plan):
    """A plan (``Plan.to_dict()``) as text: what would happen, nothing done."""
    lines = ['plan: %s %s %s %s (dry run: nothing changed)' % (
        plan.get('operation'), plan.get('host'),
        'to' if plan.get('operation') == ps.OP_ADD else 'from', plan.get('aggregate'))]
    if plan.get('refusal'):
        lines.append('  refused: %s' % plan['refusal'])
    for m in plan.get('preflight') or ():
        lines.append('  preflight: %s' % _mismatch(m))
    for call in plan.get('calls') or ():
        lines.append('  call: %s' % call)
    if plan.get('designate'):
        lines.append('  new master: %s' % plan['designate'])
    lines += ['  destroys: %s' % text for text in render_losses(plan.get('losses'))]
    return '\n'.join(lines)


def _mismatch(m):
    if isinstance(m, dict):
        return '%s %s: %s' % (m.get('code'), ' '.join(map(str, m.get('params') or ())),
                              m.get('reason'))
    return str(m)


def render_losses(losses):
    """What an eject destroys, one text per kind (``VMs: a, b``)."""
    if not losses:
        return []
    if not isinstance(losses, dict):
        return [str(losses)]
    texts = ['%s: %s' % (kind, ', '.join(_item(i) for i in items))
             for kind, items in losses.items() if isinstance(items, (list, tuple)) and items]
    if texts and losses.get('virtual_size'):
        texts.append('disk space: %.1f GiB' % (losses['virtual_size'] / 2.0 ** 30))
    return texts


def _item(item):
    if isinstance(item, dict):
        return str(item.get('name_label') or item.get('name') or item.get('uuid'))
    return str(item)


class _HostOperation(base.Show):

    def get_parser(self, prog_name):
        parser = add_target(super().get_parser(prog_name))
        parser.add_argument('--dry-run', action='store_true',
                            help='print the plan (refusal, preflight, calls, new '
                                 'master, what is destroyed) and change nothing')
        return parser

    def plan(self, plan):
        """The dry run's object: the plan; exit 3 when it would be refused."""
        record = plan.to_dict()
        if plan.refusal:
            self.status = errors.REFUSED
        self._plan = record
        return record


class AddHost(_HostOperation):
    """Add a host to an aggregate's pool (the first host becomes master; the
    others pool.join); --url remembers its xapi (a bare address is https)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--url', help='xapi URL or address of the host '
                            '(192.0.2.10, xcp1.example.org, [fd00::1] mean https://...)')
        parser.add_argument('--force-join', action='store_true', help='use pool.join_force')
        return parser

    def record(self, args):
        url = context_mod.xapi_url(args.url)
        context_mod.check_host_args(args.host, url)
        ctx = self.ctx
        agg = ctx.store.get_aggregate(args.aggregate)
        if url and not args.dry_run:
            ctx.store.set_host_url(args.host, url)
        url = url or ctx.locate(args.host)
        if not url:
            raise errors.UsageError(
                'unknown host %s: give --url, or use a lab file naming it' % args.host)
        if args.dry_run:
            return self.plan(ctx.workflow.plan_add(agg, args.host, slave_info={'url': url},
                                                   force=join_force(args)))
        started = time.time()
        # NOTE: the workflow lists the host in the store's aggregate once it is
        # a member (and never otherwise): nothing to undo here on failure.
        uuid = ctx.workflow.add(agg, args.host, slave_info={'url': url},
                                force=join_force(args))
        return views.operation_record(ps.OP_ADD, agg, args.host, views.SUCCEEDED,
                                      host_uuid=uuid, started=started)

    def summary(self, args, record):
        if args.dry_run:
            return render_plan(record)
        return 'added %s to %s: %s' % (args.host, record['aggregate'],
                                       record['state_after'])


class RemoveHost(_HostOperation):
    """Remove a host from an aggregate's pool (pool.eject: the host reboots and
    its local SRs are wiped); asks first unless --yes."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--force', action='store_true',
                            help='eject even with running VMs resident (they are lost)')
        parser.add_argument('--dead', action='store_true',
                            help='the host is dead: forget its record (host.destroy) '
                                 'once the master reports it offline')
        parser.add_argument('--yes', action='store_true',
                            help='do not ask (scripts): what the eject destroys is lost')
        return parser

    def record(self, args):
        # NOTE: a reserved name would make the workflow read (and clear) one of
        # our own metadata keys as if it were a host's uuid.
        context_mod.check_host_args(args.host)
        ctx = self.ctx
        agg = ctx.store.get_aggregate(args.aggregate)
        plan = ctx.workflow.plan_remove(agg, args.host, force=args.force, dead=args.dead)
        if args.dry_run:
            return self.plan(plan)
        if plan.refusal:
            raise exception.Refused(ps.OP_REMOVE, plan.refusal, 'Refused remove of %s from '
                                    '%s: %s' % (args.host, agg.name, plan.refusal))
        if destroys(plan) and not args.yes:
            self.confirm(args, agg, plan)
        started = time.time()
        self._removed = ctx.workflow.remove(agg, args.host, force=args.force,
                                            dead=args.dead)
        return views.operation_record(ps.OP_REMOVE, agg, args.host, views.SUCCEEDED,
                                      started=started)

    def confirm(self, args, agg, plan):
        """Ask the operator; refused without a terminal or without a yes."""
        what = render_losses(plan.to_dict().get('losses')) or [
            'nothing found on its local SRs']
        action = 'host.destroy of' if args.dead else 'pool.eject of'
        question = ('%s %s: the host reboots and its local SRs are wiped; lost: %s'
                    % (action, args.host, '; '.join(what)))
        stdin = self.app.stdin
        if not (hasattr(stdin, 'isatty') and stdin.isatty()):
            raise exception.Refused(
                ps.OP_REMOVE, 'no terminal to ask', 'Refused remove of %s from %s: %s; '
                'nothing changed (give --yes to confirm)' % (args.host, agg.name, question))
        self.app.close_progress()
        self.app.stderr.write('%s\n  calls: %s\nRemove %s from %s? [y/N] ' % (
            question, ', '.join(plan.calls) or '-', args.host, agg.name))
        self.app.stderr.flush()
        answer = stdin.readline().strip().lower()
        if answer not in ('y', 'yes'):
            raise exception.Refused(ps.OP_REMOVE, 'not confirmed',
                                    'Refused remove of %s from %s: not confirmed; nothing '
                                    'changed' % (args.host, agg.name))

    def summary(self, args, record):
        if args.dry_run:
            return render_plan(record)
        if not self._removed:
            return '%s is not a member of %s: nothing to remove' % (args.host,
                                                                   record['aggregate'])
        return 'removed %s from %s: %s' % (args.host, record['aggregate'],
                                           record['state_after'])


def destroys(plan):
    """Whether the plan destroys anything on the host (then it is asked for)."""
    return bool(plan.losses) or any(name in call for call in plan.calls
                                    for name in DESTRUCTIVE_CALLS)
