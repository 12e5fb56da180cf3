"""Following a task past its timeout, against an autospec'd session.

The session's ``wait_for`` is faked as the real one behaves: ``check()`` is
evaluated, then once more after each "event" (a callable of
``between_events``), until it answers or the events run out (a timeout).
"""

import pytest

from tests.unit.xapi import fakes
from xenpool_driver import exception
from xenpool_driver.xapi import outlived
from xenpool_driver.xapi import session as xsession

ADDR = '192.0.2.12'
URL = 'https://%s/' % ADDR
TASK = 'OpaqueRef:task-1'
LIVE = 60.0


def _task(status, error_info=(), name_label='Async.pool.join'):
    return {'status': status, 'result': '', 'error_info': list(error_info),
            'name_label': name_label}


@pytest.fixture
def session(mocker):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address, s.url = ADDR, URL
    s.tasks = {TASK: _task('pending')}

    def call(method, *args):
        if method == 'task.get_record':
            if args[0] not in s.tasks:
                raise exception.XapiError('HANDLE_INVALID', ['task', args[0]], method=method)
            return dict(s.tasks[args[0]])
        if method == 'task.get_all_records':
            return {ref: dict(rec) for ref, rec in s.tasks.items()}
        if method == 'task.destroy':
            s.tasks.pop(args[0], None)
            return ''
        raise AssertionError('unexpected call %s' % method)

    s.call.side_effect = call
    return fakes.script_waits(s)


def calls(session):
    return [c.args[0] for c in session.call.call_args_list]


def timed_out(still_running=True):
    return exception.XapiTimeout(ADDR, 'task did not finish in time', method='pool.join',
                                 maybe_applied=True, task_ref=TASK,
                                 still_running=still_running)


class Goal(object):
    """``reached()``: ``answers`` one per read (the last one repeated), or :meth:`reach`."""

    def __init__(self, *answers):
        self.answers = list(answers or (False,))

    def __call__(self):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def reach(self):
        self.answers = [True]


# --- after_timeout ----------------------------------------------------------------------

@pytest.mark.parametrize('reached', [True, False])
def test_a_task_no_longer_running_counts_only_when_the_goal_is_reached(session, reached):
    error = timed_out(still_running=False)
    if reached:
        assert outlived.after_timeout(session, error, 'pool.join', Goal(True), LIVE) is None
    else:
        with pytest.raises(exception.XapiTimeout) as err:
            outlived.after_timeout(session, error, 'pool.join', Goal(False), LIVE)
        assert err.value is error
    session.wait_for.assert_not_called()


def test_a_task_still_running_is_followed(session):
    error = timed_out()
    assert outlived.after_timeout(session, error, 'pool.join', Goal(True), LIVE) is error
    classes, _check, timeout, _what = session.wait_for.call_args.args
    assert classes == ['task'] and timeout == LIVE


# --- follow -----------------------------------------------------------------------------

def test_the_goal_reached_while_the_task_runs_ends_the_follow(session):
    goal = Goal()
    session.between_events = [goal.reach]
    error = timed_out()
    assert outlived.follow(session, error, 'pool.join', goal, LIVE) is error
    assert calls(session) == ['task.get_record']   # then reached: no further read


def test_a_task_that_succeeded_is_destroyed_and_kept_as_context(session):
    session.tasks[TASK] = _task('success')
    error = timed_out()
    assert outlived.follow(session, error, 'pool.join', Goal(), LIVE) is error
    assert calls(session) == ['task.get_record', 'task.destroy']


def test_a_task_that_failed_raises_xapis_error(session):
    session.tasks[TASK] = _task('failure', ['JOINING_HOST_CONNECTION_FAILED'])
    with pytest.raises(exception.XapiError) as err:
        outlived.follow(session, timed_out(), 'pool.join', Goal(), LIVE)
    assert err.value.code == 'JOINING_HOST_CONNECTION_FAILED'
    assert calls(session) == ['task.get_record', 'task.destroy']


def test_a_task_that_failed_although_the_goal_is_real_is_kept_as_context(session):
    # NOTE: xapi can report an error although the goal was reached.
    session.tasks[TASK] = _task('failure', ['INTERNAL_ERROR', 'late failure'])
    error = timed_out()
    assert outlived.follow(session, error, 'pool.join', Goal(False, True), LIVE) is error


def test_a_task_cancelled_while_queued_changed_nothing(session, record_exception_text):
    session.tasks[TASK] = _task('cancelled', ['TASK_CANCELLED', TASK])
    error = timed_out()
    with pytest.raises(exception.XapiTimeout) as err:
        outlived.follow(session, error, 'pool.eject', Goal(), LIVE)
    record_exception_text(err.value)
    assert 'queued behind another pool operation' in str(err.value)
    assert err.value.maybe_applied is False and err.value.__cause__ is error


def test_a_task_lost_with_its_xapi_is_maybe_applied(session, record_exception_text):
    session.tasks.clear()                         # HANDLE_INVALID: its xapi restarted
    error = timed_out()
    with pytest.raises(exception.XapiUnavailable) as err:
        outlived.follow(session, error, 'pool.join', Goal(), LIVE)
    record_exception_text(err.value)
    assert err.value.maybe_applied is True and 'lost after its timeout' in str(err.value)
    assert err.value.__cause__ is error


def test_a_task_lost_once_the_goal_is_real_is_kept_as_context(session):
    session.tasks.clear()
    error = timed_out()
    assert outlived.follow(session, error, 'pool.join', Goal(False, True), LIVE) is error


def test_another_error_reading_the_task_is_raised(session):
    denied = exception.XapiError('RBAC_PERMISSION_DENIED', ['task.get_record', 'no'])
    session.call.side_effect = denied
    with pytest.raises(exception.XapiError) as err:
        outlived.follow(session, timed_out(), 'pool.join', Goal(), LIVE)
    assert err.value is denied


def test_still_running_after_the_bound_says_so(session, record_exception_text):
    error = timed_out()
    with pytest.raises(exception.XapiTimeout) as err:
        outlived.follow(session, error, 'pool.join', Goal(), LIVE)
    record_exception_text(err.value)
    assert (err.value.still_running, err.value.task_ref) == (True, TASK)
    assert err.value.__cause__ is error


# --- pending / wait_not_pending -----------------------------------------------------------

@pytest.mark.parametrize('status, name_label, expected', [
    ('pending', 'Async.pool.join', True),
    ('cancelling', 'Async.pool.join_force', True),
    ('success', 'Async.pool.join', False),
    ('pending', 'Async.pool.eject', False),
    ('pending', 'pool.join', False),              # not the task of an Async call
])
def test_pending_matches_the_async_tasks_of_the_methods(session, status, name_label,
                                                        expected):
    session.tasks[TASK] = _task(status, name_label=name_label)
    assert outlived.pending(session, ('pool.join', 'pool.join_force')) is expected
    assert calls(session) == ['task.get_all_records']


def test_wait_not_pending_waits_for_the_task_to_end(session):
    session.between_events = [lambda: session.tasks.__setitem__(TASK, _task('success'))]
    outlived.wait_not_pending(session, ('pool.join',), LIVE)
    assert session.wait_for.call_args.args[0] == ['task']
    assert session.wait_for.call_args.args[2] == LIVE


def test_wait_not_pending_times_out_while_it_runs(session):
    with pytest.raises(exception.XapiTimeout):
        outlived.wait_not_pending(session, ('pool.join',), LIVE)
