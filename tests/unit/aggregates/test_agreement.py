"""agreement.compare: the one answer to "do metadata and the pool agree"."""

import pytest

from tests.unit.aggregates import fakes
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk

U1 = '11111111-1111-1111-1111-111111111111'
U2 = '22222222-2222-2222-2222-222222222222'
U3 = '33333333-3333-3333-3333-333333333333'


def _host(uuid, address, enabled=True, live=True):
    return fakes.host_record(uuid, address, enabled=enabled, live=live)


def _members(*hosts, master=U1, name='agg'):
    return fakes.members_of(*hosts, master=master, name=name)


def _md(state=ps.ACTIVE, master='h1', address='a1', **hosts):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state}
    if master:
        md[bk.MASTER_COMPUTE] = master
    if address:
        md[bk.KEY] = bk.encode(bk.Bookkeeping(master_address=address))
    md.update(hosts)
    return md


def _with_intent(md, op=ps.OP_ADD, host='h2', expires=None):
    intent = bk.new_intent(op, host, ps.ACTIVE, 'cli@box:7', 0.0, expires=expires)
    return dict(md, **{bk.INTENT_KEY: bk.encode_intent(intent)})


TWO = _members(_host(U1, 'a1'), _host(U2, 'a2'))


def compare(md, members, hosts=None, **kw):
    if hosts is None:
        hosts = sorted(bk.recorded_hosts(md))
    return agreement.compare('agg', hosts, md, members, **kw)


def test_agreeing_pool_has_no_differences():
    result = compare(_md(h1=U1, h2=U2), TWO)
    assert result.agreed and result.differences == () and result.unhealthy == ()


def test_empty_created_aggregate_without_pool_read_agrees():
    assert compare(_md(state=ps.CREATED, master=None, address=None), None).agreed


@pytest.mark.parametrize('md, members, hosts, expected', [
    (_md(h1=U1, h2=U2), _members(_host(U1, 'a1')), None,
     'host h2 (%s) is recorded but not a member' % U2),
    (_md(h1=U1), _members(_host(U1, 'a1'), _host(U3, 'a3')), None,
     'member %s (a3) is not recorded' % U3),
    (_md(h1=U1, h2=U2), _members(_host(U1, 'a1'), _host(U2, 'a2'), master=U2), None,
     'master is h2 (a2), metadata says h1'),
    (_md(h1=U1, address='a9'), _members(_host(U1, 'a1')), None,
     'master address is a1, metadata says a9'),
    (_md(h1=U1), _members(_host(U1, 'a1'), name='other'), None,
     "pool is named 'other', not 'agg'"),
    (_md(h1=U1), None, None, 'pool not read'),
    (_md(state=ps.CHANGING, h1=U1), _members(_host(U1, 'a1')), None,
     'state is changing with no operation recorded'),
    (_with_intent(_md(h1=U1)), _members(_host(U1, 'a1')), None,
     'operation in flight: add of h2 by cli@box:7'),
    (_md(state='bogus', h1=U1), _members(_host(U1, 'a1')), None,
     "unknown operational_state 'bogus'"),
    (_md(state=ps.CREATED, h1=U1), _members(_host(U1, 'a1')), None,
     'state is created with 1 host(s) recorded'),
    (_md(master='h1', address='a1'), None, [],
     'a master is recorded but no host'),
    (_md(state=ps.ACTIVE, master=None, address=None), None, [],
     'state is active with no host recorded'),
    (_md(h1=U1, h2=U2), TWO, ['h1'],
     'host h2 has a uuid recorded but is not in the host list'),
    (_md(h1=U1), _members(_host(U1, 'a1')), ['h1', 'h2'],
     'host h2 is in the host list with no uuid recorded'),
], ids=['recorded-not-member', 'member-not-recorded', 'master-moved', 'master-address',
        'pool-name', 'no-pool-read', 'changing', 'intent', 'unknown-state',
        'created-with-hosts', 'stale-master', 'active-without-hosts', 'unlisted',
        'unrecorded'])
def test_each_difference_is_reported(md, members, hosts, expected):
    result = compare(md, members, hosts)
    assert expected in result.differences and not result.agreed


def test_host_list_differences_are_named():
    result = compare(_md(h1=U1, h2=U2), TWO, hosts=['h1', 'h3'])
    assert result.unlisted == ('h2',) and result.unrecorded == ('h3',)


@pytest.mark.parametrize('health, text', [
    ({'live': False}, 'host h2 is not live'), ({'enabled': False}, 'host h2 is disabled')])
def test_unhealthy_members_are_apart_from_agreement(health, text):
    members = _members(_host(U1, 'a1'), _host(U2, 'a2', **health))
    result = compare(_md(h1=U1, h2=U2), members)
    assert result.agreed and result.unhealthy == (text,)


@pytest.mark.parametrize('expires, now, lease', [
    (100.0, 50.0, '(lease alive)'), (100.0, 150.0, '(lease expired)')])
def test_a_lease_is_told_alive_or_expired(expires, now, lease):
    md = _with_intent(_md(state=ps.CHANGING, h1=U1), expires=expires)
    result = compare(md, _members(_host(U1, 'a1')), now=now)
    assert any(d.endswith(lease) for d in result.differences)


def test_error_reading_the_pool_is_a_difference():
    result = compare(_md(h1=U1), None, error='cannot read the pool: refused')
    assert 'pool not read: cannot read the pool: refused' in result.differences


def test_every_difference_at_once_and_nothing_changed():
    md = _with_intent(_md(state=ps.CHANGING, h1=U1, h2=U2))
    before = dict(md)
    result = compare(md, _members(_host(U1, 'a1'), _host(U3, 'a3')), hosts=['h1'])
    assert len(result.differences) == 4
    assert md == before
