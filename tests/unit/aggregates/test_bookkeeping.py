"""Tests of the namespaced bookkeeping key."""

import json
import logging

import pytest

from tests import passwords
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reasons

UUID1 = '11111111-2222-3333-4444-555555555555'
UUID2 = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'


def _intent(**kw):
    args = dict(op='add', host='c2', prev_state='active', owner='c1',
                started=1000.5, url='https://192.0.2.2', host_uuid=UUID2)
    args.update(kw)
    return bk.new_intent(**args)


def test_round_trip_full_record():
    intent = _intent(started=1000.0, expires=1100.0)
    record = bk.Bookkeeping(intent=intent, failures=2,
                            master_address='192.0.2.1',
                            counted=bk.Counted('x', 'add', 'c3'),
                            reason='add of c3 failed: XAPI error X')
    stored = bk.updates(record)
    assert ', ' not in stored[bk.INTENT_KEY] and '": ' not in stored[bk.KEY]
    assert bk.read(stored) == record.replace(
        intent=intent.__class__(**dict(intent.__dict__, expires=1101.0)))
    data = json.loads(stored[bk.KEY])
    assert data['v'] == 1 and 'intent' not in data
    assert data['master'] == '192.0.2.1'
    assert data['reason'] == 'add of c3 failed: XAPI error X'
    data = json.loads(stored[bk.INTENT_KEY])
    assert data['op'] == 'add'
    assert data['prev'] == 'active'
    assert data['uuid'] == UUID2


def test_an_intent_stored_inside_the_state_key_is_still_read():
    # NOTE: the layout before the intent had a key of its own
    raw = json.dumps({'v': 1, 'failures': 1, 'intent': {
        'id': 'i', 'op': 'add', 'host': 'h', 'owner': 'o', 'prev': 'active'}})
    record = bk.read({bk.KEY: raw})
    assert record.intent.host == 'h' and record.failures == 1
    assert record.intent.expires is None
    assert record.intent.may_have_changed_pool()   # no lease: assume so


def test_values_never_exceed_the_compute_service_column():
    intent = _intent(op='remove', host='h' * 60, owner='o' * 200,
                     url='https://' + 'u' * 120,
                     started=1767225600.0, expires=1767225720.0)
    intent = intent.__class__(**dict(intent.__dict__, target_uuid=UUID1,
                                     phase='designate'))
    stored = bk.updates(bk.Bookkeeping(
        intent=intent, failures=3, master_address='192.0.2.1',
        counted=bk.Counted('x' * 12, 'remove', 'h' * 60),
        reason='r' * 1000))
    assert all(len(v) <= bk.VALUE_LIMIT for v in stored.values())
    back = bk.read(stored)
    assert back.intent.target_uuid == UUID1 and back.intent.phase == 'designate'
    assert back.reason.startswith('rrr') and back.reason.endswith('...')
    with pytest.raises(ValueError, match='longer than 255'):
        bk.encode_intent(_intent(host='h' * 250))


def test_empty_record_deletes_keys():
    assert bk.encode(bk.Bookkeeping()) is None
    assert bk.updates(bk.Bookkeeping()) == {bk.KEY: None, bk.INTENT_KEY: None}


def test_absent_key_is_empty():
    assert bk.read({}) == bk.Bookkeeping()
    assert bk.parse('') == bk.Bookkeeping()


@pytest.mark.parametrize('raw', [
    '{not json', '[]', '"text"', '42', 'null', '\x00\x01'])
def test_garbage_is_absent_with_a_warning(raw, caplog):
    caplog.set_level(logging.WARNING)
    assert bk.parse(raw) == bk.Bookkeeping()
    if raw != 'null':
        assert any(bk.KEY in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize('intent', [
    'x', [], {}, {'op': 'add'},
    {'id': 'i', 'op': 'explode', 'host': 'h', 'owner': 'o', 'prev': 'active'},
    {'id': 'i', 'op': 'add', 'host': 'h', 'owner': 'o', 'prev': 'bogus'},
    {'id': 'i', 'op': 'add', 'host': 3, 'owner': 'o', 'prev': 'active'},
])
def test_malformed_intent_dropped_other_fields_kept(intent, caplog):
    raw = json.dumps({'v': 1, 'intent': intent, 'failures': 2,
                      'master': '192.0.2.1'})
    parsed = bk.parse(raw)
    assert parsed.intent is None
    assert parsed.failures == 2
    assert parsed.master_address == '192.0.2.1'


@pytest.mark.parametrize('failures', [-1, 'two', True, 1.5, [1]])
def test_malformed_failures_are_zero(failures):
    assert bk.parse(json.dumps({'failures': failures})).failures == 0


def test_malformed_optional_intent_fields_are_ignored():
    raw = json.dumps({'intent': {'id': 'i', 'op': 'remove', 'host': 'h',
                                 'owner': 'o', 'prev': 'error',
                                 'started': 'yesterday', 'uuid': 7}})
    intent = bk.parse(raw).intent
    assert intent.op == 'remove' and intent.prev_state == 'error'
    assert intent.started == 0.0 and intent.host_uuid is None


def test_url_userinfo_never_stored():
    intent = _intent(url='https://root:%s@192.0.2.2:443/' % passwords.PASSWORD)
    raw = bk.encode_intent(intent)
    assert passwords.PASSWORD not in raw
    assert 'root' not in raw
    assert intent.url == 'https://192.0.2.2:443/'


def test_intent_ids_are_unique():
    assert _intent().id != _intent().id


def test_recorded_hosts_only_uuid_valued_non_reserved_keys():
    md = {'hypervisor_pool': 'true', 'operational_state': 'active',
          'master_compute': 'c1', bk.KEY: '{}', 'availability_zone': 'az',
          'c1': UUID1, 'c2': UUID2, 'note': 'hello'}
    assert bk.recorded_hosts(md) == {'c1': UUID1, 'c2': UUID2}
    assert bk.host_for_uuid(md, UUID2) == 'c2'
    assert bk.host_for_uuid(md, 'nope') is None


def test_a_reason_names_its_operations_and_reads_them_back():
    reason = reasons.with_operations('add of c2 failed: X', ['a1', 'b2'])
    assert reason == 'add of c2 failed: X (counted operations a1, b2)'
    assert reasons.reason_operations(reason) == ('a1', 'b2')
    assert reasons.reason_message(reason) == 'add of c2 failed: X'
    # naming again replaces the ids, never stacks them
    assert reasons.with_operations(reason, ['c3']) == \
        'add of c2 failed: X (counted operations c3)'
    assert reasons.with_operations('x', []) == 'x'
    assert reasons.reason_operations('add failed (because)') == ()


def test_the_newest_operation_ids_survive_the_compute_service_column():
    ids = ['%012x' % i for i in range(1, 9)]
    record = bk.Bookkeeping(
        failures=8, master_address='192.0.2.11',
        counted=bk.Counted(ids[-1], 'remove', 'compute-2', counted=False),
        reason=reasons.with_operations('remove of c2 failed: ' + 'r' * 500, ids))
    raw = bk.encode(record)
    assert len(raw) <= bk.VALUE_LIMIT
    back = bk.read({bk.KEY: raw})
    kept = reasons.reason_operations(back.reason)
    assert len(kept) >= 3 and kept == tuple(ids[-len(kept):])  # newest, in order
    message = reasons.reason_message(back.reason)
    assert message.startswith('remove of c2 failed: rrr') and \
        len(message) >= reasons.MESSAGE_MIN
    assert (back.counted.id, back.counted.host, back.counted.counted) == (
        ids[-1], "compute-2", False)


def test_whatever_room_is_left_the_newest_operation_id_survives():
    newest = 'b' * 12
    one_id = len(',"reason":"(counted operations %s)"' % newest)
    messages = set()
    for size in range(40, 120):
        record = bk.Bookkeeping(
            failures=3, master_address='m' * size,
            counted=bk.Counted('x' * 12, 'remove', 'h' * 60),
            reason=reasons.with_operations('r' * 300, ['a' * 12, newest]))
        if len(bk.encode(record.replace(reason=None))) + one_id > bk.VALUE_LIMIT:
            break       # NOTE: no room even for one id (not a real address)
        raw = bk.encode(record)
        assert len(raw) <= bk.VALUE_LIMIT, size
        reason = bk.read({bk.KEY: raw}).reason
        assert reasons.reason_operations(reason)[-1] == newest, size
        messages.add(reasons.reason_message(reason))
    assert '' in messages and len(messages) > 10    # every regime was reached


def test_an_uncounted_failure_marker_round_trips_and_old_markers_counted():
    marker = bk.Counted('i', 'add', 'c2', counted=False)
    raw = bk.encode(bk.Bookkeeping(counted=marker))
    assert json.loads(raw)['uncounted'] == {'id': 'i', 'host': 'c2'}
    assert 'counted' not in json.loads(raw)
    assert bk.read({bk.KEY: raw}).counted == bk.Counted('i', '', 'c2', counted=False)
    old = json.dumps({'v': 1, 'counted': {'id': 'i', 'op': 'add', 'host': 'c2'}})
    assert bk.read({bk.KEY: old}).counted.counted is True


def test_a_shortened_reason_keeps_what_failed_and_the_operations_it_names():
    message = ('add of host6 failed: xapi at http://127.0.10.5:45915/ unavailable '
               'calling host.get_all_records: timed out after 13.0s waiting for '
               'host 2a3b1c4d-1895-4431-aaf4-971296fd1103 enabled and live')
    ids = ['3f2a4b5c6d7e']
    record = bk.Bookkeeping(
        failures=1, master_address='127.0.10.5',
        reason=reasons.with_operations(message, ids),
        counted=bk.Counted(ids[-1], 'add', 'host6'))
    raw = bk.encode(record)
    assert len(raw) <= bk.VALUE_LIMIT
    kept = bk.read({bk.KEY: raw}).reason
    assert reasons.reason_operations(kept) == tuple(ids)
    kept = reasons.reason_message(kept)
    assert len(kept) < len(message) and kept.endswith('...')
    assert kept.startswith('add of host6 failed: xapi at http://127.0.10.5:45915/ '
                           'unavailable calling host.get_all_records: timed out')


def test_an_uncounted_marker_leaves_a_long_reason_whole():
    # NOTE: test_bad_input's unreachable joiner: its cause ends its text
    message = ('add of closed failed: xapi at http://127.0.0.1:37211/ unavailable '
               'calling session.login_with_password: ConnectionRefusedError: '
               '[Errno 111] Connection refused')
    record = bk.Bookkeeping(master_address='127.0.10.1', reason=message,
                            counted=bk.Counted('a34eecc4f6b3', 'add', 'closed',
                                               counted=False))
    assert bk.read({bk.KEY: bk.encode(record)}).reason == message
