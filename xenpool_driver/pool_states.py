"""Possible states for xen resource pools.

A pool may be 'created', in which case the admin has triggered its
creation, but the underlying hypervisor pool has not actually being set up
yet. A pool may be 'changing', meaning that the underlying hypervisor
pool is being setup. A pool may be 'active', in which case the underlying
hypervisor pool is up and running. A pool may be 'dismissed' when it has
no hosts and it has been deleted. A pool may be in 'error' in all other
cases.
A 'created' pool becomes 'changing' during the first request of
adding a host. During a 'changing' status no other requests will be accepted;
this is to allow the hypervisor layer to instantiate the underlying pool
without any potential race condition that may incur in master/slave-based
configurations. The pool goes into the 'active' state when the underlying
pool has been correctly instantiated.
All other operations (e.g. add/remove hosts) that succeed will keep the
pool in the 'active' state. If a number of continuous requests fail,
an 'active' pool goes into an 'error' state. To recover from such a state,
admin intervention is required. Currently an error state is irreversible,
that is, in order to recover from it a pool must be deleted.

NOTE: this project keeps the seed's text above as the spec, with two
deliberate extensions, both written down in the tables below:

* an admin reset may leave 'error' for 'active' (or 'created' when the pool
  has no hosts), but only when reconcile finds metadata and reality agree;
* 'remove' is accepted in 'error' so that an admin can empty a broken pool.
"""

CREATED = 'created'
CHANGING = 'changing'
ACTIVE = 'active'
ERROR = 'error'
DISMISSED = 'dismissed'

ALL_STATES = frozenset({CREATED, CHANGING, ACTIVE, ERROR, DISMISSED})

# Metadata keys
KEY = 'operational_state'
POOL_FLAG = 'hypervisor_pool'

#: Values of ``hypervisor_pool`` that mean "this is not a pool".
FALSE_VALUES = frozenset({'false', '0', 'no', 'off', ''})

# Operations the workflow performs on an aggregate.
OP_ADD = 'add'
OP_REMOVE = 'remove'
OP_DELETE = 'delete'
OP_RESET = 'reset'

#: Which operation is accepted in which state.  Anything absent is refused.
ACCEPTED_IN = {
    OP_ADD: frozenset({CREATED, ACTIVE}),
    OP_REMOVE: frozenset({ACTIVE, ERROR}),
    OP_DELETE: frozenset({CREATED}),
    OP_RESET: frozenset({ERROR}),
}

#: Why an operation is refused in a state (the message the caller sees).
REFUSAL_REASONS = {
    (OP_ADD, CHANGING): 'setup in progress',
    (OP_ADD, DISMISSED): 'aggregate deleted',
    (OP_ADD, ERROR): 'aggregate in error',
    (OP_REMOVE, CREATED): 'no hosts to remove',
    (OP_REMOVE, CHANGING): 'setup in progress',
    (OP_REMOVE, DISMISSED): 'aggregate deleted',
    (OP_DELETE, CHANGING): 'setup in progress',
    (OP_DELETE, ACTIVE): 'pool still has hosts',
    (OP_DELETE, ERROR): 'aggregate in error: empty it first',
    (OP_DELETE, DISMISSED): 'aggregate already deleted',
    (OP_RESET, CREATED): 'aggregate is not in error',
    (OP_RESET, CHANGING): 'setup in progress',
    (OP_RESET, ACTIVE): 'aggregate is not in error',
    (OP_RESET, DISMISSED): 'aggregate deleted',
}

#: Legal transitions of ``operational_state``.
TRANSITIONS = frozenset({
    (CREATED, CHANGING),    # first add starts
    (ACTIVE, CHANGING),     # add or remove starts
    (ERROR, CHANGING),      # an admin empties a broken pool
    (CHANGING, ACTIVE),     # success with hosts left
    (CHANGING, CREATED),    # last host removed, or the first add failed
    (CHANGING, ERROR),      # failure (threshold reached, or it was in error)
    (ACTIVE, ERROR),        # threshold reached while reconciling
    (ERROR, ACTIVE),        # admin reset after reconcile agrees
    (ERROR, CREATED),       # admin reset of an empty pool
    (CREATED, DISMISSED),   # aggregate deleted with no hosts
})


def is_hv_pool(metadata):
    """Checks if aggregate is a hypervisor_pool.

    :param metadata: the aggregate's metadata (a mapping of str to str).
    :returns: True when the ``hypervisor_pool`` flag is present and its value
        is not one of ``false``, ``0``, ``no``, ``off`` (any case, ignoring
        surrounding blanks).
    """
    if POOL_FLAG not in metadata:
        return False
    value = metadata[POOL_FLAG]
    if value is None:
        return False
    return str(value).strip().lower() not in FALSE_VALUES


def is_accepted(operation, state):
    """Tell whether ``operation`` may start in ``state``."""
    return state in ACCEPTED_IN.get(operation, ())


def refusal_reason(operation, state):
    """The reason ``operation`` is refused in ``state`` (None if accepted)."""
    if is_accepted(operation, state):
        return None
    if state not in ALL_STATES:
        return ('unknown operational_state %r: run reconcile to set it from '
                'the pool' % (state,))
    return REFUSAL_REASONS.get((operation, state),
                               '%s not allowed in state %s' % (operation, state))


def is_legal_transition(old, new):
    """Tell whether ``operational_state`` may go from ``old`` to ``new``."""
    return (old, new) in TRANSITIONS
