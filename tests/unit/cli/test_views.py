"""views.compare: metadata against the live pool (read-only)."""

import json

import pytest

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.cli import views
from xenpool_driver.xapi import host as xhost
from xenpool_driver.xapi import pool

U1 = '11111111-1111-1111-1111-111111111111'
U2 = '22222222-2222-2222-2222-222222222222'
U3 = '33333333-3333-3333-3333-333333333333'


def _host(uuid, address, enabled=True, live=True):
    return xhost.HostInfo(ref='OpaqueRef:' + uuid, uuid=uuid, name_label=address,
                          address=address, enabled=enabled, live=live)


def _members(*hosts, master=U1):
    return pool.Membership(pool_ref='OpaqueRef:pool', pool_uuid='p-uuid', name_label='agg',
                           master_uuid=master, hosts=tuple(hosts))


def _md(state=ps.ACTIVE, master='h1', **hosts):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state}
    if master:
        md[bk.MASTER_COMPUTE] = master
    md.update(hosts)
    return md


def _with_intent(md, op=ps.OP_ADD, host='h2'):
    intent = bk.new_intent(op, host, ps.ACTIVE, 'xenpool-cli', 0.0)
    return dict(md, **bk.updates(bk.Bookkeeping(intent=intent)))


def test_agreeing_pool_has_no_differences():
    md = _md(h1=U1, h2=U2)
    assert views.compare(md, _members(_host(U1, 'a1'), _host(U2, 'a2'))) == []


def test_empty_created_aggregate_without_pool_read_agrees():
    assert views.compare(_md(state=ps.CREATED, master=None), None) == []


@pytest.mark.parametrize('md, members, expected', [
    (_md(h1=U1, h2=U2), _members(_host(U1, 'a1')), 'h2 (%s) recorded but not a member' % U2),
    (_md(h1=U1), _members(_host(U1, 'a1'), _host(U3, 'a3')),
     'member %s (a3) not recorded' % U3),
    (_md(h1=U1, h2=U2), _members(_host(U1, 'a1'), _host(U2, 'a2', live=False)),
     'member %s not enabled and live' % U2),
    (_md(h1=U1, h2=U2), _members(_host(U1, 'a1'), _host(U2, 'a2', enabled=False)),
     'member %s not enabled and live' % U2),
    (_md(h1=U1, h2=U2), _members(_host(U1, 'a1'), _host(U2, 'a2'), master=U2),
     'master is %s, metadata says h1' % U2),
    (_md(h1=U1), None, 'hosts recorded but no pool read'),
    (_md(state=ps.CHANGING, h1=U1), _members(_host(U1, 'a1')), 'state is changing'),
    (_with_intent(_md(h1=U1)), _members(_host(U1, 'a1')), 'operation in flight: add h2'),
], ids=['recorded-not-member', 'member-not-recorded', 'not-live', 'disabled',
        'master-moved', 'no-pool-read', 'changing', 'intent'])
def test_each_difference_is_reported(md, members, expected):
    assert expected in views.compare(md, members)


def test_compare_reports_every_difference_at_once():
    md = _with_intent(_md(state=ps.CHANGING, h1=U1, h2=U2))
    problems = views.compare(md, _members(_host(U1, 'a1'), _host(U3, 'a3')))
    assert len(problems) == 4


def test_compare_does_not_change_metadata():
    md = _with_intent(_md(h1=U1))
    before = dict(md)
    views.compare(md, _members(_host(U1, 'a1')))
    assert md == before


class _Ctx(object):
    """Just enough of cli.context.Context for aggregate_view."""

    class workflow(object):
        @staticmethod
        def master_url(md):
            return 'http://master/'

    def __init__(self, members=None, error=None):
        self.members, self.error = members, error

    def session(self, url):
        return self


class _Agg(object):
    def __init__(self, md, hosts):
        self.name, self.metadata, self.hosts = 'agg', md, list(hosts)


def test_aggregate_view_has_the_documented_keys_and_renders(monkeypatch):
    members = _members(_host(U1, 'a1'), _host(U2, 'a2'))
    monkeypatch.setattr(pool, 'snapshot', lambda session: members)
    view = views.aggregate_view(_Ctx(), _Agg(_md(h1=U1, h2=U2), ['h1', 'h2']))
    for key in ('name', 'operational_state', 'hosts', 'master', 'xapi_hosts', 'consistent'):
        assert key in view
    assert view['consistent'] is True
    assert view['hosts'] == {'h1': U1, 'h2': U2}
    assert [h['uuid'] for h in view['xapi_hosts']] == [U1, U2]
    json.dumps(view)  # --json must be able to print it
    text = views.render(view)
    assert 'h1 master' in text and 'consistent: yes' in text


def test_aggregate_view_xapi_error_makes_it_inconsistent(monkeypatch):
    from xenpool_driver import exception

    def boom(session):
        raise exception.XapiUnavailable('http://master/', 'connection refused')
    monkeypatch.setattr(pool, 'snapshot', boom)
    view = views.aggregate_view(_Ctx(), _Agg(_md(h1=U1), ['h1']))
    assert view['consistent'] is False
    assert view['xapi_error']
    assert 'consistent: NO' in views.render(view)
