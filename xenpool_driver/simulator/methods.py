"""XAPI verbs on the model: the method registry, generic class messages,
sessions, tasks, events and the few VM/host verbs the driver needs.

Pool operations live in :mod:`.pool_join` (join) and :mod:`.pool_members`
(eject, designate, destroy). A handler is ``func(call, *params)`` (session
excluded); :class:`Call` carries the host, its database, the session and
the task of an async call.
"""

import threading

from xenpool_driver.simulator import model
from xenpool_driver.simulator.errors import XapiError
from xenpool_driver.simulator.xapi_messages import MESSAGES

#: ``system.listMethods``: every message of every class the simulator
#: models, as xapi lists them (static; ``ocaml/idl/ocaml_backend/gen_server.ml``).
LIST_METHODS = tuple('%s.%s' % (cls, msg) for cls, msgs in MESSAGES.items() for msg in msgs)
_LISTED = frozenset(LIST_METHODS)


class Method(object):
    __slots__ = ('name', 'func', 'arity', 'min_arity', 'session', 'async_ok')

    def __init__(self, name, func, arity, session=True, async_ok=False, min_arity=None):
        self.name, self.func, self.arity = name, func, arity
        self.session, self.async_ok = session, async_ok
        self.min_arity = arity if min_arity is None else min_arity


_REGISTRY = {}
_CACHE = {}     # resolved aliases and generic messages (never listed)
_lock = threading.Lock()


def api(name, arity, session=True, async_ok=False, min_arity=None):
    """Register ``func`` as the XAPI message ``name`` (arity excludes the session)."""
    def deco(func):
        _REGISTRY[name] = Method(name, func, arity, session, async_ok, min_arity)
        return func
    return deco


class Call(object):
    """One call in flight: what a handler may touch.

    NOTE: as ``taskHelper.ml``, a task is cancellable only while its
    operation says so (:meth:`set_cancellable`); ``task.cancel`` of any other
    pending task is recorded and ignored: the call runs to its end.
    """

    def __init__(self, host, session, name, task=None):
        self.host, self.session, self.name, self.task = host, session, name, task
        self.db = host.db
        self.lab = host.lab
        self.cancellable = False
        self.preauth = None     # 'root' for a call on the Unix socket

    def set_cancellable(self, flag=True):
        """``TaskHelper.set_cancellable`` / ``set_not_cancellable``."""
        self.cancellable = bool(flag)
        if self.task is not None:
            with self.db.lock:
                if self.db.exists('task', self.task):
                    self.db.set('task', self.task,
                                allowed_operations=['cancel'] if flag else [])

    def cancelling(self):
        """``TaskHelper.is_cancelling``: ``cancel`` is in the task's current_operations."""
        if self.task is None:
            return False
        with self.db.lock:
            rec = self.db.tables['task'].get(self.task)
            return rec is not None and 'cancel' in rec['current_operations'].values()

    def check_cancelled(self):
        """``TaskHelper.exn_if_cancelling``, only where the operation is cancellable."""
        if self.cancellable and self.cancelling():
            raise XapiError('TASK_CANCELLED', self.task)

    def sleep(self, xapi_seconds):
        """Wait ``xapi_seconds`` (scaled); a cancellable task stops with TASK_CANCELLED."""
        delay = self.lab.scaled(xapi_seconds)
        if self.task is None or not self.cancellable:
            if delay > 0:
                self.lab.clock.wait(self.lab.closing, delay)
            return
        self.check_cancelled()
        if self.lab.clock.wait(self.lab.cancel_event(self.task), delay):
            self.check_cancelled()


# -- lookup -------------------------------------------------------------------
def names():
    """xapi's ``system.listMethods``: the same list whatever was called before."""
    return list(LIST_METHODS)


def lookup(name):
    """The :class:`Method` for ``name`` (``obj_msg`` aliases resolved).

    A message xapi has but the simulator does not model answers
    NOT_IMPLEMENTED [name]; a name xapi does not have, MESSAGE_METHOD_UNKNOWN.

    :raises XapiError: MESSAGE_METHOD_UNKNOWN [name], NOT_IMPLEMENTED [name].
    """
    m = _REGISTRY.get(name) or _CACHE.get(name)
    if m is not None:
        return m
    dotted = None
    if '.' in name:
        m, dotted = _resolve(name), name
    else:
        # NOTE: ``obj_msg`` alias; class names may contain '_' (host_metrics).
        for i, ch in enumerate(name):
            if ch == '_':
                candidate = name[:i] + '.' + name[i + 1:]
                m = _resolve(candidate)
                if m is not None or candidate in _LISTED:
                    dotted = candidate
                    break
    if m is None:
        if dotted in _LISTED:
            raise XapiError('NOT_IMPLEMENTED', dotted)
        raise XapiError('MESSAGE_METHOD_UNKNOWN', name)
    with _lock:
        return _CACHE.setdefault(name, m)


def _resolve(dotted):
    m = _REGISTRY.get(dotted)
    if m is None and dotted in _LISTED:
        m = _generic(dotted)
    return m


SETTABLE = ('name_label', 'name_description', 'other_config', 'tags')


def _generic(name):
    cls, _, msg = name.partition('.')
    if cls not in model.DEFAULTS or not msg:
        return None
    fields = model.fields_of(cls)
    if msg == 'get_all':
        return Method(name, lambda c: c.db.refs(cls), 0)
    if msg == 'get_all_records':
        return Method(name, lambda c: c.db.records(cls), 0)
    if msg == 'get_record':
        return Method(name, lambda c, ref: c.db.record(cls, ref), 1)
    if msg == 'get_by_uuid':
        return Method(name, lambda c, uuid: c.db.by_uuid(cls, uuid), 1)
    if msg == 'get_by_name_label' and 'name_label' in fields:
        return Method(name, lambda c, label: c.db.find(cls, name_label=label), 1)
    if msg.startswith('get_') and msg[4:] in fields:
        field = msg[4:]
        return Method(name, lambda c, ref: c.db.record(cls, ref)[field], 1)
    if msg.startswith('set_') and msg[4:] in SETTABLE and msg[4:] in fields:
        field = msg[4:]
        def setter(c, ref, value):
            c.db.set(cls, ref, **{field: value})
            return ''
        return Method(name, setter, 2)
    if msg in ('add_to_other_config', 'remove_from_other_config') and 'other_config' in fields:
        def mapper(c, ref, key, *value):
            with c.db.lock:
                oc = dict(c.db.get(cls, ref)['other_config'])
                if value:
                    if key in oc:
                        raise XapiError('MAP_DUPLICATE_KEY', cls, 'other_config',
                                        c.db.get(cls, ref)['uuid'], key)
                    oc[key] = value[0]
                else:
                    oc.pop(key, None)
                c.db.set(cls, ref, other_config=oc)
            return ''
        return Method(name, mapper, 3 if msg.startswith('add') else 2)
    return None


# -- session ------------------------------------------------------------------
#: ``Datamodel.emergency_calls`` (``ocaml/idl/datamodel.ml``): what a host in
#: emergency mode still dispatches (``api_server.ml`` callback1).
EMERGENCY_CALLS = frozenset(n for n in (
    'pool.emergency_reset_master', 'pool.emergency_transition_to_master', 'pool.is_slave',
    'session.slave_local_login', 'session.slave_local_login_with_password',
    'session.local_logout', 'host.propose_new_master', 'host.commit_new_master',
    'host.abort_new_master', 'host.local_assert_healthy', 'host.signal_networking_change',
    'host.local_management_reconfigure', 'host.ha_xapi_healthcheck',
    'host.emergency_ha_disable', 'host.management_disable',
    'host.get_system_status_capabilities', 'host.is_in_emergency_mode', 'host.shutdown_agent',
    'host.emergency_reset_server_certificate', 'host.emergency_disable_tls_verification',
    'host.emergency_reenable_tls_verification', 'host.emergency_clear_mandatory_guidance',
    'host.update_firewalld_service_status') if n in _LISTED)
#: ``Datamodel.whitelist``: calls a slave runs itself when they come in on its
#: Unix socket; it forwards every other one to its master (``api_server.ml``).
UDS_WHITELIST = EMERGENCY_CALLS | {'session.login_with_password', 'session.slave_login'}


def _local_auth(call, uname, pwd):
    """``do_local_auth``: the local superuser's credentials, else
    SESSION_AUTHENTICATION_FAILED [uname; msg] (the caller adds any delay)."""
    if uname != call.lab.username or pwd != call.lab.password:
        raise XapiError('SESSION_AUTHENTICATION_FAILED', uname, 'Authentication failure')


@api('session.login_with_password', 4, session=False, min_arity=2)
def login_with_password(call, uname, pwd, version='1.1', originator=''):
    host = call.host
    if call.preauth == 'root':
        # NOTE: xapi_session.ml: a request on the Unix socket is root
        # (Context.preauth): no password, no HOST_IS_SLAVE, a local superuser.
        return _new_session(call, uname, originator)
    if host.role == 'slave':
        # NOTE: xapi answers HOST_IS_SLAVE before it looks at the password.
        raise XapiError('HOST_IS_SLAVE', host.master_address)
    lab = call.lab
    if uname != lab.username or pwd != lab.password:
        call.sleep(lab.timings.auth_failure_delay)
        raise XapiError('SESSION_AUTHENTICATION_FAILED', uname, 'Authentication failure')
    return _new_session(call, uname, originator)


def _new_session(call, uname, originator):
    """``login_no_password_common``: root authenticated by the local password
    (or the Unix socket) is the local superuser (is_local_superuser true, no
    subject, no RBAC list; ``xapi_session.ml``)."""
    stamp = model.now()
    return call.db.create('session', this_host=call.host.ref, last_active=stamp,
                          validation_time=stamp, auth_user_name=str(uname),
                          originator=str(originator), is_local_superuser=True)


@api('session.slave_local_login_with_password', 2, session=False)
def slave_local_login_with_password(call, uname, pwd):
    """A session only this host knows (``Xapi_local_session``), good even in
    emergency mode and on a slave; checked against the local superuser unless
    the call came in on the Unix socket; a failure has no delay
    (``xapi_session.ml``)."""
    if call.preauth != 'root':
        _local_auth(call, uname, pwd)
    ref = model.new_ref()
    call.host.local_sessions.add(ref)
    return ref


@api('session.local_logout', 0)
def local_logout(call):
    """``xapi_session.ml`` local_logout: forget the local session."""
    call.host.local_sessions.discard(call.session)
    return ''


@api('session.logout', 0)
def logout(call):
    if call.db.exists('session', call.session):
        call.db.destroy('session', call.session)
    return ''


# -- tasks --------------------------------------------------------------------
@api('task.create', 2)
def task_create(call, label, description):
    """``xapi_task.ml`` create: a pending task a client drives itself."""
    return call.db.create('task', name_label=str(label), name_description=str(description),
                          created=model.now(), resident_on=call.host.ref)


@api('task.cancel', 1)
def task_cancel(call, task):
    with call.db.lock:
        rec = call.db.get('task', task)
        if rec['status'] == 'pending':
            ops = dict(rec['current_operations'])
            ops[model.new_ref()] = 'cancel'
            call.db.set('task', task, current_operations=ops)
    call.lab.cancel_event(task).set()
    return ''


@api('task.destroy', 1)
def task_destroy(call, task):
    with call.db.lock:
        rec = call.db.get('task', task)
        if rec['status'] == 'pending':
            ops = dict(rec['current_operations'])
            ops[model.new_ref()] = 'destroy'
            call.db.set('task', task, current_operations=ops)
        else:
            call.db.destroy('task', task)
    return ''


# -- events -------------------------------------------------------------------
@api('event.from', 3)
def event_from(call, classes, token, timeout):
    if not isinstance(classes, list):
        raise XapiError('FIELD_TYPE_ERROR', 'classes')
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise XapiError('FIELD_TYPE_ERROR', 'timeout')
    return call.db.event_from(classes, str(token), timeout, call.lab.clock)


@api('event.inject', 2)
def event_inject(call, cls, ref):
    return call.db.inject(str(cls), str(ref))


# -- host and VM verbs --------------------------------------------------------
@api('host.get_servertime', 1)
def host_servertime(call, host):
    call.db.get('host', host)
    return model.now()


@api('host.enable', 1, async_ok=True)
def host_enable(call, host):
    call.db.set('host', host, enabled=True)
    return ''


@api('host.disable', 1, async_ok=True)
def host_disable(call, host):
    call.db.set('host', host, enabled=False)
    return ''


def _power(call, vm, expected, new_state, resident):
    with call.db.lock:
        rec = call.db.get('VM', vm)
        if rec['power_state'] not in expected:
            raise XapiError('VM_BAD_POWER_STATE', vm, expected[0].lower(),
                            rec['power_state'].lower())
        call.db.set('VM', vm, power_state=new_state, resident_on=resident)
    return ''


@api('VM.start', 3, async_ok=True)
def vm_start(call, vm, start_paused, force):
    state = 'Paused' if start_paused else 'Running'
    return _power(call, vm, ['Halted'], state, call.host.ref)


@api('VM.start_on', 4, async_ok=True)
def vm_start_on(call, vm, host, start_paused, force):
    call.db.get('host', host)
    return _power(call, vm, ['Halted'], 'Paused' if start_paused else 'Running', host)


@api('VM.hard_shutdown', 1, async_ok=True)
def vm_hard_shutdown(call, vm):
    return _power(call, vm, ['Running', 'Paused', 'Suspended'], 'Halted', model.NULL)


@api('VM.clean_shutdown', 1, async_ok=True)
def vm_clean_shutdown(call, vm):
    return _power(call, vm, ['Running'], 'Halted', model.NULL)
