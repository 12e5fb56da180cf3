"""views: an aggregate beside its live pool (agreement.compare decides)."""

import json

from tests.unit.aggregates import fakes
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.cli import views
from xenpool_driver.xapi import pool

U1 = '11111111-1111-1111-1111-111111111111'
U2 = '22222222-2222-2222-2222-222222222222'
U3 = '33333333-3333-3333-3333-333333333333'


def _host(uuid, address, enabled=True, live=True):
    return fakes.host_record(uuid, address, enabled=enabled, live=live)


def _members(*hosts, master=U1, name='agg'):
    return fakes.members_of(*hosts, master=master, name=name)


def _md(state=ps.ACTIVE, master='h1', **hosts):
    md = {ps.POOL_FLAG: 'true', ps.KEY: state}
    if master:
        md[bk.MASTER_COMPUTE] = master
        md[bk.KEY] = bk.encode(bk.Bookkeeping(master_address='a1'))
    md.update(hosts)
    return md


class _Ctx(object):
    """Just enough of cli.context.Context for aggregate_view."""

    class workflow(object):
        class locator(object):
            @staticmethod
            def master_url(md):
                return 'http://master/'

            @staticmethod
            def locate(host):
                return None

            @staticmethod
            def session_at(url):
                return object()

        @staticmethod
        def membership(url):
            return pool.snapshot(None)


class _Agg(object):
    def __init__(self, md, hosts):
        self.name, self.metadata, self.hosts = 'agg', md, list(hosts)


def test_aggregate_view_has_the_documented_keys_and_renders(monkeypatch):
    members = _members(_host(U1, 'a1'), _host(U2, 'a2'))
    monkeypatch.setattr(pool, 'snapshot', lambda session: members)
    view = views.aggregate_view(_Ctx(), _Agg(_md(h1=U1, h2=U2), ['h1', 'h2']))
    assert tuple(view) == views.AGGREGATE_FIELDS + views.LIVE_FIELDS
    assert view['consistent'] is True
    assert view['hosts'] == {'h1': U1, 'h2': U2}
    assert view['master'] == 'h1'                      # a compute host name
    assert view['pool']['master_uuid'] == U1            # a xapi uuid
    assert [(h['name'], h['uuid'], h['master']) for h in view['pool']['members']] == [
        ('h1', U1, True), ('h2', U2, False)]
    assert tuple(view['pool']['members'][0]) == views.HOST_FIELDS
    json.dumps(view)  # -f json must be able to print it
    text = views.render(view)
    assert 'h1 master' in text and 'consistent: yes' in text


def test_aggregate_view_xapi_error_makes_it_inconsistent(monkeypatch):
    from xenpool_driver import exception

    def boom(session):
        raise exception.XapiUnavailable('http://master/', 'connection refused')
    monkeypatch.setattr(pool, 'snapshot', boom)
    view = views.aggregate_view(_Ctx(), _Agg(_md(h1=U1), ['h1']))
    assert view['consistent'] is False
    assert view['xapi_error']['type'] == 'xapi_unavailable'
    assert view['xapi_error']['host'] == 'http://master/'
    assert 'consistent: NO' in views.render(view)


def test_aggregate_view_xapi_error_is_structured(monkeypatch):
    from xenpool_driver import exception

    def boom(session):
        raise exception.XapiError('SESSION_AUTHENTICATION_FAILED', ['root', 'bad'],
                                  method='session.login_with_password',
                                  host='http://master/')
    monkeypatch.setattr(pool, 'snapshot', boom)
    error = views.aggregate_view(_Ctx(), _Agg(_md(h1=U1), ['h1']))['xapi_error']
    assert {k: error[k] for k in ('type', 'code', 'params', 'method', 'host')} == {
        'type': 'xapi_error', 'code': 'SESSION_AUTHENTICATION_FAILED',
        'params': ['root', 'bad'], 'method': 'session.login_with_password',
        'host': 'http://master/'}


def test_list_and_show_share_the_aggregate_fields():
    agg = _Agg(_md(h1=U1), ['h1'])
    record = views.aggregate_record(agg)
    assert tuple(record) == views.AGGREGATE_FIELDS
    assert (record['master'], record['hosts']) == ('h1', {'h1': U1})


def test_aggregate_view_shows_the_kept_failure_reason(monkeypatch):
    monkeypatch.setattr(pool, 'snapshot', lambda session: _members(_host(U1, 'a1')))
    md = _md(state=ps.ERROR, h1=U1)
    md[bk.KEY] = bk.encode(bk.Bookkeeping(master_address='a1', failures=3,
                                          reason='add of h2 failed: XAPI error X'))
    view = views.aggregate_view(_Ctx(), _Agg(md, ['h1']))
    assert view['reason'] == 'add of h2 failed: XAPI error X' and view['failures'] == 3
    assert 'last failure: add of h2 failed: XAPI error X' in views.render(view)
