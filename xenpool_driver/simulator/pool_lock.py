"""The pool operation lock: a pool op in ``pool.current_operations`` while it
runs (:class:`PoolOp`, xapi's ``with_pool_operation``), and which ops refuse
which (:func:`pool_op_error`, ``ocaml/xapi/xapi_pool_helpers.ml``).

Join, eject and designate_new_master take it (:mod:`.pool_join`,
:mod:`.pool_members`).
"""

from xenpool_driver.simulator import model
from xenpool_driver.simulator.errors import XapiError


#: ``xapi_pool_helpers.ml``: a blocking op in progress refuses every other
#: blocking op at once with its own error; everything else is a waiting op.
BLOCKING_OPS = {
    'ha_enable': 'HA_ENABLE_IN_PROGRESS', 'ha_disable': 'HA_DISABLE_IN_PROGRESS',
    'cluster_create': 'CLUSTER_CREATE_IN_PROGRESS',
    'designate_new_master': 'DESIGNATE_NEW_MASTER_IN_PROGRESS',
    'tls_verification_enable': 'TLS_VERIFICATION_ENABLE_IN_PROGRESS',
    'configure_repositories': 'CONFIGURE_REPOSITORIES_IN_PROGRESS',
    'sync_updates': 'SYNC_UPDATES_IN_PROGRESS', 'sync_bundle': 'SYNC_BUNDLE_IN_PROGRESS',
    'apply_updates': 'APPLY_UPDATES_IN_PROGRESS',
}
WAITING_OPS = ('cert_refresh', 'exchange_certificates_on_join',
               'exchange_ca_certificates_on_join', 'copy_primary_host_certs', 'eject',
               'get_updates', 'exchange_crls_on_join')


def pool_op_error(db, pool, op):
    """Why pool operation ``op`` cannot start now, or None.

    As ``compute_valid_operations`` in ``ocaml/xapi/xapi_pool_helpers.ml``:
    with a blocking op current, blocking ops get its ``*_IN_PROGRESS []`` and
    waiting ops ``OTHER_OPERATION_IN_PROGRESS``; with only waiting ops
    current, every op gets ``OTHER_OPERATION_IN_PROGRESS ["pool"; pool; op;
    op_ref]`` (the waiting op's type and ref only when one is current).
    """
    ops = db.get('pool', pool)['current_operations']
    if not ops:
        return None
    blocking = next((o for o in ops.values() if o in BLOCKING_OPS), None)
    waiting = next(((r, o) for r, o in ops.items() if o in WAITING_OPS), None)
    other = ['pool', pool] + ([waiting[1], waiting[0]] if waiting else [])
    if blocking is not None and op in BLOCKING_OPS:
        return XapiError(BLOCKING_OPS[blocking])
    return XapiError('OTHER_OPERATION_IN_PROGRESS', *other)


class PoolOp(object):
    """``with_pool_operation``: a pool op in ``current_operations`` while it runs.

    Entering is xapi's ``Helpers.retry_with_global_lock``
    (``ocaml/xapi/helpers.ml``): the task becomes cancellable, and an
    ``OTHER_OPERATION_IN_PROGRESS`` is waited out (woken when the pool
    changes) for up to ``Timings.lock_max_wait`` (``Policy.standard``: two
    hours) xapi seconds, then raised; any
    other refusal (a blocking op's ``*_IN_PROGRESS``) is raised at once. A
    ``task.cancel`` while queued ends the task ``TASK_CANCELLED``.

    :param db: the database whose pool is locked (default: the call's).
    :param ref: the key in ``current_operations`` (default: the call's task).
    """

    def __init__(self, call, op, db=None, ref=None, cancellable=True):
        self.call, self.op = call, op
        self.db = call.db if db is None else db
        self.ref = ref or call.task or model.new_ref()
        self.cancellable = cancellable

    def __enter__(self):
        call, db = self.call, self.db
        if self.cancellable:
            call.set_cancellable(True)
        clock = call.lab.clock
        deadline = clock.monotonic() + call.lab.scaled(call.lab.timings.lock_max_wait)
        with db.lock:
            while True:
                if self.cancellable:
                    call.check_cancelled()
                pool = db.pool_ref()
                error = pool_op_error(db, pool, self.op)
                if error is None:
                    break
                left = deadline - clock.monotonic()
                if error.code != 'OTHER_OPERATION_IN_PROGRESS' or left <= 0 \
                        or call.lab.closing.is_set():
                    raise error
                # NOTE: Early_wakeup: the op in progress wakes us on its way out.
                clock.wait(db.changed, min(left, 0.5))
            ops = dict(db.get('pool', pool)['current_operations'])
            ops[self.ref] = self.op
            db.set('pool', pool, current_operations=ops)
            self.pool = pool
        # NOTE: xapi leaves the task's allowed_operations at [cancel], but
        # nothing after the lock looks at a cancel any more.
        call.cancellable = False
        return self

    def __exit__(self, *exc):
        with self.db.lock:
            if self.db.exists('pool', self.pool):
                ops = dict(self.db.get('pool', self.pool)['current_operations'])
                ops.pop(self.ref, None)
                self.db.set('pool', self.pool, current_operations=ops)
