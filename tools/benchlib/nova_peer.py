"""Nova's way, reimplemented from its published behaviour (a bench peer).

Nova <= 21 (``nova/virt/xenapi/pool.py`` and the ``xenhost`` dom0 plugin):

* add a slave: the plugin logs in on the joiner and calls ``pool.join``
  synchronously (``host_join``); nothing in Nova then waits for the host to
  be usable, so "done" here is what a user of it would have to do next: poll
  the master every ``xenapi_task_poll_interval`` (0.5 s) until it shows the
  host enabled and live;
* remove a slave: a synchronous ``pool.eject`` on the master
  (``_eject_slave``; its ``VM.clean_shutdown`` of the nova-compute VM is
  left out: a lab host runs no compute VM);
* remove the master: Nova refuses it ("pool not empty"). The peer is the
  shortest extension in the same style: a synchronous
  ``pool.designate_new_master``, the same 0.5 s poll until the new master
  answers and shows the old one enabled and live, then the synchronous eject.

The plain XenAPI SDK, as Nova used it: no events, no task waiter, no
recovery policy, no bookkeeping.
"""

import time

import XenAPI

#: Nova's ``xenapi_task_poll_interval`` (real seconds; never scaled).
POLL_INTERVAL = 0.5


class NovaPeer:
    """The Nova-style peer on a lab (``hosts`` of :class:`~.labproc.HostView`).

    :param clock: perf_counter-like clock; :param sleep: real sleep.
    """

    label = "Nova's way"

    def __init__(self, username, password, poll=POLL_INTERVAL, sleep=time.sleep,
                 ceiling=120.0):
        self.username = username
        self.password = password
        self.poll = poll
        self.sleep = sleep
        self.ceiling = ceiling
        self._sessions = {}

    def begin(self, first):
        """Nothing to set up around a cycle (sessions are made as needed)."""

    def end(self, last):
        """Nothing to tear down around a cycle."""

    def _login(self, url):
        session = XenAPI.Session(url)
        session.login_with_password(self.username, self.password, '2.0', 'nova-peer')
        return session

    def session(self, url):
        """A long-lived session on ``url`` (a compute service keeps one)."""
        if url not in self._sessions:
            self._sessions[url] = self._login(url)
        return self._sessions[url]

    def forget(self, url):
        """Drop the session on ``url`` (its xapi restarted: the session is gone)."""
        session = self._sessions.pop(url, None)
        if session is not None:
            try:
                session.xenapi.session.logout()
            except Exception:  # noqa: BLE001 - NOTE: best effort, as Nova's
                pass

    def _usable(self, session, host_uuid):
        api = session.xenapi
        ref = api.host.get_by_uuid(host_uuid)
        if not api.host.get_enabled(ref):
            return False
        return bool(api.host_metrics.get_live(api.host.get_metrics(ref)))

    def _poll_until(self, check, what):
        deadline = time.monotonic() + self.ceiling
        while True:
            try:
                if check():
                    return
            except (XenAPI.Failure, OSError):
                pass  # NOTE: xapi restarting or booting: poll again
            if time.monotonic() > deadline:
                raise RuntimeError('nova peer: %s not reached' % what)
            self.sleep(self.poll)

    def add(self, joiner, master):
        """Join ``joiner`` to ``master``'s pool; returns seconds to usable."""
        poller = self.session(master.url)
        t0 = time.perf_counter()
        plugin = self._login(joiner.url)     # NOTE: host_join logs in each time
        plugin.xenapi.pool.join(master.address, self.username, self.password)
        self._poll_until(lambda: self._usable(poller, joiner.uuid),
                         'host %s enabled and live' % joiner.name)
        elapsed = time.perf_counter() - t0
        # NOTE: the joiner's xapi restarted: that session is gone
        self.forget(joiner.url)
        return elapsed

    def remove(self, master, host):
        """Eject slave ``host``; returns seconds until the call returned."""
        api = self.session(master.url).xenapi
        t0 = time.perf_counter()
        api.pool.eject(api.host.get_by_uuid(host.uuid))
        return time.perf_counter() - t0

    def remove_master(self, master, new_master):
        """Designate ``new_master``, then eject the old master from it."""
        api = self.session(master.url).xenapi
        t0 = time.perf_counter()
        api.pool.designate_new_master(api.host.get_by_uuid(new_master.uuid))
        self.forget(master.url)      # NOTE: every xapi of the pool restarts
        holder = {}

        def ready():
            try:
                if 'session' not in holder:
                    holder['session'] = self._login(new_master.url)
                return self._usable(holder['session'], master.uuid)
            except (XenAPI.Failure, OSError):
                # NOTE: not master yet, or its xapi restarted since the login
                holder.pop('session', None)
                raise

        self._poll_until(ready, 'the new master with %s live' % master.name)
        api = holder['session'].xenapi
        api.pool.eject(api.host.get_by_uuid(master.uuid))
        elapsed = time.perf_counter() - t0
        self._sessions[new_master.url] = holder['session']
        return elapsed

    def close(self):
        for url in list(self._sessions):
            self.forget(url)
