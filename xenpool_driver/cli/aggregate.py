"""``xenpool aggregate ...``: the aggregates of the store and their pools.

Each command is thin: it calls the workflow (``ctx.workflow``) or the store
(``ctx.store``) and returns one of :mod:`.views`' objects.
"""

from xenpool_driver import pool_states as ps
from xenpool_driver import store as store_mod
from xenpool_driver.cli import base
from xenpool_driver.cli import errors
from xenpool_driver.cli import views

#: ``aggregate history``'s table columns (``-f json``: the whole records).
HISTORY_FIELDS = ('id', 'op', 'host', 'owner', 'started', 'duration', 'outcome',
                  'state_after', 'xapi_code', 'task')


def add_name(parser):
    # NOTE: dest "aggregate", never "name": one meaning per field
    parser.add_argument('aggregate', metavar='NAME', help='the aggregate')
    return parser


class CreateAggregate(base.Show):
    """Create an aggregate (a hypervisor pool, operational_state created)."""

    def get_parser(self, prog_name):
        parser = add_name(super().get_parser(prog_name))
        parser.add_argument('--no-hv-pool', action='store_true',
                            help='a plain aggregate, not a hypervisor pool')
        return parser

    def record(self, args):
        metadata = {} if args.no_hv_pool else {ps.POOL_FLAG: 'true', ps.KEY: ps.CREATED}
        store = self.ctx.store
        try:
            existing = store.get_aggregate(args.aggregate)
        except store_mod.NotFound:
            existing = None
        if existing is not None:
            if existing.metadata.get(ps.KEY) != ps.DISMISSED:
                raise store_mod.Conflict('aggregate %s already exists' % args.aggregate)
            # NOTE: a dismissed aggregate is kept for history; its name is free
            store.delete_aggregate(existing.id)
        return views.aggregate_record(store.create_aggregate(args.aggregate, metadata))

    def summary(self, args, record):
        return 'created aggregate %s (%s)' % (record['name'],
                                              record['operational_state'] or 'not a pool')


class ListAggregates(base.List):
    """List aggregates (their metadata; no xapi call)."""

    fields = ('name', 'operational_state', 'hypervisor_pool', 'master', 'hosts')

    def records(self, args):
        return [views.aggregate_record(a) for a in self.ctx.store.list_aggregates()]


class ShowAggregate(base.Show):
    """Show an aggregate beside its live pool; exit 4 unless they agree."""

    fields = tuple(f for f in views.AGGREGATE_FIELDS if f != 'metadata') + \
        views.LIVE_FIELDS

    def get_parser(self, prog_name):
        return add_name(super().get_parser(prog_name))

    def record(self, args):
        view = views.aggregate_view(self.ctx, self.ctx.store.get_aggregate(args.aggregate))
        if not view['consistent']:
            self.status = errors.DRIFT
        return view


class DeleteAggregate(base.Show):
    """Delete an aggregate without hosts (it is kept, dismissed)."""

    def get_parser(self, prog_name):
        return add_name(super().get_parser(prog_name))

    def record(self, args):
        agg = self.ctx.store.get_aggregate(args.aggregate)
        self.ctx.workflow.delete(agg)
        return views.aggregate_record(agg)

    def summary(self, args, record):
        return 'aggregate %s: %s' % (record['name'], record['operational_state'])


def render_report(r):
    """A reconcile report as text (the default format of reconcile and reset)."""
    lines = ['aggregate %s: %s -> %s, %s' % (
        r['name'], r['state_before'], r['state_after'],
        'agrees with xapi' if r['agreed'] else 'DOES NOT agree with xapi')]
    lines += ['  did: %s' % a for a in r['actions']]
    lines += ['  drift: %s' % d for d in r['drift']]
    lines += ['  unhealthy: %s' % u for u in r['unhealthy']]
    for key, label in (('error', 'error'), ('busy', 'busy'), ('pending', 'not known yet'),
                       ('reason', 'last failure')):
        if r.get(key):
            lines.append('  %s: %s' % (label, r[key]))
    return '\n'.join(lines)


class ReconcileAggregate(base.List):
    """Repair metadata from reality; exit 4 unless metadata and xapi agree."""

    fields = ('name', 'state_before', 'state_after', 'agreed', 'actions', 'drift',
              'unhealthy', 'error', 'busy', 'pending')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('aggregate', metavar='NAME', nargs='?', help='the aggregate')
        parser.add_argument('--all', action='store_true', help='every pool aggregate')
        return parser

    def records(self, args):
        if args.all:
            aggs = self.ctx.store.list_aggregates()
        elif args.aggregate:
            aggs = [self.ctx.store.get_aggregate(args.aggregate)]
        else:
            raise errors.UsageError('xenpool aggregate reconcile: give an aggregate '
                                    'NAME or --all')
        reports = []
        for agg in aggs:
            if not ps.is_hv_pool(agg.metadata) or agg.metadata.get(ps.KEY) == ps.DISMISSED:
                continue
            reports.append(views.report_view(agg, self.ctx.workflow.reconcile(agg)))
        if not all(r['agreed'] for r in reports):
            self.status = errors.DRIFT
        return reports

    def summary(self, args, records):
        return '\n'.join(render_report(r) for r in records) or 'nothing to reconcile'


class ResetAggregate(base.Show):
    """Leave error: reconcile, then active only if metadata and xapi agree."""

    def get_parser(self, prog_name):
        return add_name(super().get_parser(prog_name))

    def record(self, args):
        agg = self.ctx.store.get_aggregate(args.aggregate)
        return views.report_view(agg, self.ctx.workflow.reset(agg))

    def summary(self, args, record):
        return render_report(record)


class ForgetHost(base.Show):
    """Admin: drop a host's record and listing (no xapi call; after reconcile)."""

    def get_parser(self, prog_name):
        parser = add_name(super().get_parser(prog_name))
        parser.add_argument('host', metavar='HOST', help='the compute host name')
        return parser

    def record(self, args):
        agg = self.ctx.store.get_aggregate(args.aggregate)
        self.ctx.workflow.forget_host(agg, args.host)
        return views.aggregate_record(agg)

    def summary(self, args, record):
        return 'forgot %s in %s (no xapi call made): %s' % (
            args.host, record['name'], record['operational_state'])


class SetState(base.Show):
    """Admin: force operational_state (logged; after reconcile showed reality)."""

    def get_parser(self, prog_name):
        parser = add_name(super().get_parser(prog_name))
        parser.add_argument('state', metavar='STATE',
                            choices=sorted(ps.ALL_STATES - {ps.CHANGING}),
                            help='one of %s' % ', '.join(sorted(ps.ALL_STATES -
                                                                {ps.CHANGING})))
        return parser

    def record(self, args):
        agg = self.ctx.store.get_aggregate(args.aggregate)
        self._old = agg.metadata.get(ps.KEY)
        self.ctx.workflow.force_state(agg, args.state)
        return views.aggregate_record(agg)

    def summary(self, args, record):
        return 'aggregate %s: operational_state forced from %s to %s' % (
            record['name'], self._old, args.state)


class AggregateHistory(base.List):
    """The operations run on an aggregate, oldest first (-f json: whole records)."""

    fields = HISTORY_FIELDS

    def get_parser(self, prog_name):
        parser = add_name(super().get_parser(prog_name))
        parser.add_argument('--limit', type=int, default=None, metavar='N',
                            help='the N newest operations only')
        return parser

    def records(self, args):
        if args.limit is not None and args.limit < 1:
            raise errors.UsageError('xenpool aggregate history: --limit must be at '
                                    'least 1')
        return [r.to_dict() for r in self.ctx.store.history(args.aggregate,
                                                             limit=args.limit)]
