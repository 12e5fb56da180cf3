"""``xenpool preflight`` and ``xenpool pool show``: read-only looks at xapi."""

from xenpool_driver.cli import base
from xenpool_driver.cli import context as context_mod
from xenpool_driver.cli import errors
from xenpool_driver.cli import hosts
from xenpool_driver.cli import views


class Preflight(base.Show):
    """Check a host against an aggregate's pool master, as add-host would
    (every mismatch xapi would refuse the join for); exit 3 on a mismatch."""

    def get_parser(self, prog_name):
        parser = hosts.add_target(super().get_parser(prog_name))
        parser.add_argument('--url', help='xapi URL or address of the host (a bare '
                            'address means https://...)')
        parser.add_argument('--force-join', action='store_true',
                            help='check as add-host --force-join would (pool.join_force)')
        return parser

    def record(self, args):
        url = context_mod.xapi_url(args.url)
        context_mod.check_host_args(args.host, url)
        agg = self.ctx.store.get_aggregate(args.aggregate)
        # NOTE: the workflow's own check of a join (the joiner's host read first,
        # its uuid checked, the same force): what add-host would be refused for.
        url = url or self.ctx.locate(args.host)
        if not url:
            raise errors.UsageError('unknown host %s: give --url' % args.host)
        force = hosts.join_force(args)
        mismatches = self.ctx.workflow.preflight(agg, args.host, url=url, force=force)
        if mismatches:
            self.status = errors.REFUSED
        return views.preflight_record(agg, args.host, url, force, mismatches)

    def summary(self, args, record):
        if record['can_join']:
            return '%s can join %s' % (record['host'], record['aggregate'])
        return '\n'.join('%s %s: %s' % (m['code'], ' '.join(m['params']), m['reason'])
                         for m in record['mismatches'])


class PoolShow(base.Show):
    """Show a pool straight from xapi (no aggregate involved)."""

    fields = views.POOL_FIELDS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--url', required=True, help='xapi URL or address of any '
                            'host of the pool (a bare address means https://...)')
        return parser

    def record(self, args):
        url = context_mod.xapi_url(args.url)
        context_mod.check_host_args(url=url)
        return views.pool_record(self.ctx.workflow.membership(url))
