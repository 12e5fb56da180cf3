"""A pool's membership built from records, and the re-reads after a failed call.

:func:`xenpool_driver.xapi.membership.read` and :func:`ejectable` are pinned
through the pool verbs (snapshot, eject) in test_pool.py.
"""

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import membership
from xenpool_driver.xapi import session as xsession

POOL = {'uuid': 'pool-1', 'name_label': 'agg', 'master': 'OpaqueRef:m'}
HOSTS = {
    'OpaqueRef:s': {'uuid': 's', 'name_label': 'slave', 'address': '192.0.2.11',
                    'enabled': 'true', 'metrics': 'OpaqueRef:ms'},
    'OpaqueRef:m': {'uuid': 'm', 'name_label': 'master', 'address': '192.0.2.10',
                    'enabled': True, 'metrics': 'OpaqueRef:mm'},
    'OpaqueRef:n': {'uuid': 'n', 'name_label': 'new', 'address': '192.0.2.12',
                    'enabled': False, 'metrics': 'OpaqueRef:NULL'},
}
METRICS = {'OpaqueRef:ms': {'live': '0'}, 'OpaqueRef:mm': {'live': True}}


@pytest.fixture
def master(mocker):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = '192.0.2.10'
    return s


def test_from_records_sorts_hosts_and_reads_liveness():
    m = membership.from_records('OpaqueRef:p', POOL, HOSTS, METRICS)
    assert (m.pool_ref, m.pool_uuid, m.name_label, m.master_uuid) == (
        'OpaqueRef:p', 'pool-1', 'agg', 'm')
    assert [h.uuid for h in m.hosts] == ['m', 'n', 's']
    assert [(h.enabled, h.live) for h in m.hosts] == [(True, True), (False, False),
                                                      (True, False)]
    assert m.master.name_label == 'master' and m.uuids == {'m', 'n', 's'}


def test_a_master_not_among_the_hosts_is_no_master():
    m = membership.from_records('OpaqueRef:p', dict(POOL, master='OpaqueRef:NULL'),
                                HOSTS, METRICS)
    assert m.master_uuid == '' and m.master is None and m.host('x') is None


@pytest.mark.parametrize('answer, joined, gone', [
    (HOSTS, False, True),                              # 'x' is not listed
    (dict(HOSTS, **{'OpaqueRef:x': {'uuid': 'x', 'metrics': 'OpaqueRef:NULL'}}),
     True, False),
    (exception.XapiUnavailable('192.0.2.10', 'connection refused'), False, False),
])
def test_joined_and_gone_read_the_master_and_say_no_when_unreadable(master, answer,
                                                                   joined, gone):
    if isinstance(answer, Exception):
        master.call.side_effect = answer
    else:
        master.call.return_value = answer
    assert membership.joined(master, 'x') is joined
    assert membership.gone(master, 'x') is gone

