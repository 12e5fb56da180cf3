"""The settle checks of a change of master, over hand-built memberships.

The designate itself (one call, its failures re-read) is pinned through
:func:`xenpool_driver.xapi.pool.designate_new_master` in test_pool.py.
"""

import pytest

from xenpool_driver import exception
from xenpool_driver.xapi import membership
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import settle
from xenpool_driver.xapi.host import HostInfo

OLD, NEW = '192.0.2.10', '192.0.2.11'


def members(master_uuid, old_live=True, new_live=True, new_enabled=True):
    return membership.Membership(
        pool_ref='OpaqueRef:pool', pool_uuid='pool-1', name_label='agg',
        master_uuid=master_uuid,
        hosts=(HostInfo('OpaqueRef:new', 'new', 'new', NEW, new_enabled, new_live),
               HostInfo('OpaqueRef:old', 'old', 'old', OLD, True, old_live)))


@pytest.fixture
def master(mocker):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = NEW
    return s


@pytest.mark.parametrize('read, address, same_address, is_settled', [
    (members('new'), NEW, True, True),
    (members('old'), NEW, True, False),                  # not flipped yet
    (members('new'), OLD, True, False),                  # the old master's stale DB
    (members('new'), 'xcp.example', False, True),        # nothing designated by us
    (members('new', old_live=False), NEW, True, False),  # a member still restarting
    (members('new', new_enabled=False), NEW, True, False),
    (members('gone'), NEW, True, False),                 # master not among the hosts
])
def test_settled_needs_the_new_masters_own_answer_and_every_member_live(
        master, read, address, same_address, is_settled):
    master.address = address
    found = settle.settled(master, read, 'new', same_address=same_address)
    assert (found is read) if is_settled else (found is None)


@pytest.mark.parametrize('error, answer', [
    (None, True),
    (exception.XapiUnavailable(NEW, 'connection refused'), True),   # restarting: maybe
    (exception.XapiError('SESSION_INVALID', []), False),
])
def test_designated_reads_the_master_and_counts_a_restarting_pool_as_maybe(
        mocker, master, error, answer):
    read = mocker.patch.object(membership, 'read', autospec=True,
                               return_value=members('new'))
    if error is not None:
        read.side_effect = error
    assert settle.designated(master, 'new') is answer


def test_wait_settled_reads_until_settled(mocker, master):
    reads = [members('old'), members('new', old_live=False), members('new')]
    mocker.patch.object(membership, 'read', autospec=True, side_effect=reads)

    def wait_for(classes, check, timeout, what):
        while True:
            result = check()
            if result is not None:
                return result
    master.wait_for.side_effect = wait_for
    assert settle.wait_settled(master, 'new', 60.0, None) == members('new')
    classes, _check, timeout, _what = master.wait_for.call_args.args
    assert classes == ['pool', 'host', 'host_metrics'] and timeout == 60.0


def test_wait_settled_times_out_chained_to_the_designates_error(master, record_exception_text):
    failure = exception.XapiUnavailable(OLD, 'connection reset', maybe_applied=True)
    master.wait_for.side_effect = exception.XapiTimeout(NEW, 'not settled')
    with pytest.raises(exception.XapiTimeout) as err:
        settle.wait_settled(master, 'new', 60.0, failure)
    record_exception_text(err.value)
    assert err.value.__cause__ is failure


def test_settled_already_waits_only_when_not_settled(mocker, master):
    master.address = 'xcp.example'
    assert settle.settled_already(master, members('new'), 'new', 60.0) == members('new')
    master.wait_for.assert_not_called()
    master.wait_for.return_value = members('new')
    settle.settled_already(master, members('new', old_live=False), 'new', 60.0)
    master.wait_for.assert_called_once()
