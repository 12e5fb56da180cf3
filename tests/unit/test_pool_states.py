"""Tests of the states, the transition table and is_hv_pool."""

import itertools

import pytest

from xenpool_driver import pool_states as ps

OPS = sorted(ps.ACCEPTED_IN)
STATES = sorted(ps.ALL_STATES)


@pytest.mark.parametrize('op,state', [
    (op, state) for op in OPS for state in sorted(ps.ACCEPTED_IN[op])])
def test_accepted_operations_have_no_refusal(op, state):
    assert ps.is_accepted(op, state)
    assert ps.refusal_reason(op, state) is None


@pytest.mark.parametrize('op,state,reason', [
    (op, state, reason)
    for (op, state), reason in sorted(ps.REFUSAL_REASONS.items())])
def test_every_refusal_reason(op, state, reason):
    assert not ps.is_accepted(op, state)
    assert ps.refusal_reason(op, state) == reason


@pytest.mark.parametrize('op,state', list(itertools.product(OPS, STATES)))
def test_table_is_complete(op, state):
    """Every (op, state) pair is either accepted or has a written reason."""
    accepted = state in ps.ACCEPTED_IN[op]
    assert accepted != ((op, state) in ps.REFUSAL_REASONS)


@pytest.mark.parametrize('state', [None, '', 'ACTIVE', 'bogus', 'creat'])
@pytest.mark.parametrize('op', OPS)
def test_unknown_states_are_refused_clearly(op, state):
    assert not ps.is_accepted(op, state)
    assert ps.refusal_reason(op, state) == (
        'unknown operational_state %r: run reconcile to set it from the pool'
        % (state,))


def test_unknown_operation_is_refused():
    assert not ps.is_accepted('explode', ps.ACTIVE)
    assert ps.refusal_reason('explode', ps.ACTIVE) == (
        'explode not allowed in state active')


@pytest.mark.parametrize('old,new', sorted(ps.TRANSITIONS))
def test_legal_transitions(old, new):
    assert ps.is_legal_transition(old, new)


@pytest.mark.parametrize('old,new', [
    pair for pair in itertools.product(STATES, STATES)
    if pair not in ps.TRANSITIONS])
def test_illegal_transitions(old, new):
    assert not ps.is_legal_transition(old, new)


def test_dismissed_is_final():
    assert not any(old == ps.DISMISSED for old, _ in ps.TRANSITIONS)


@pytest.mark.parametrize('value', [
    'true', 'True', 'TRUE', '1', 'yes', 'YES', 'Yes', ' true ', 'on'])
def test_is_hv_pool_true(value):
    assert ps.is_hv_pool({ps.POOL_FLAG: value})


@pytest.mark.parametrize('value', [
    'false', 'False', 'FALSE', '0', 'no', 'NO', 'No', 'off', 'OFF', 'Off',
    '', ' ', None])
def test_is_hv_pool_false(value):
    assert not ps.is_hv_pool({ps.POOL_FLAG: value})


def test_is_hv_pool_absent():
    assert not ps.is_hv_pool({})
    assert not ps.is_hv_pool({ps.KEY: ps.ACTIVE})
