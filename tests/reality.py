"""Real pool membership, read independently of the driver (tests only).

The one reality reader of the tests: the plain XenAPI SDK logs in on a lab
host (:func:`login`: following HOST_IS_SLAVE to the master or not, retrying
while xapi restarts) and reads the pool, host and host_metrics records
(:func:`read_pool` from one host, :func:`read_lab` from every host of a lab):
what xapi itself says, to compare metadata with. Needs nothing but the SDK
and the simulator (no store), so the Nova tests, the fault matrix and the
chaos campaign use it too.
"""

import dataclasses
import ssl
import time
import urllib.parse
import xmlrpc.client

import XenAPI

#: Ceiling of every wait (task, liveness, independent read): never reached
#: in a passing run; it only bounds a failing one.
CEILING = 20.0
#: Ceiling of one client back-off between reconnects (real seconds).
#: NOTE: the session layer backs off 0.5 s and more while xapi restarts;
#: the lab runs 200 times faster than xapi, so the client's patience is
#: scaled too (a retry costs a few ms, never a real half second).
MAX_BACKOFF = 0.01


@dataclasses.dataclass(frozen=True)
class RealHost:
    uuid: str
    address: str
    name_label: str
    enabled: bool
    live: bool


@dataclasses.dataclass(frozen=True)
class RealPool:
    master_uuid: str
    name_label: str
    hosts: dict  # uuid -> RealHost
    answered_by: str  # address of the xapi that answered (the master)

    @property
    def master(self):
        return self.hosts[self.master_uuid]


def _sdk(lab, url):
    if url.startswith('https:'):
        context = ssl.create_default_context(cafile=lab.ca_file)
        return XenAPI.Session(url, transport=xmlrpc.client.SafeTransport(context=context))
    return XenAPI.Session(url)


def _with_address(url, address):
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc='%s:%d' % (address, parts.port)).geturl()


_NOT_YET = (ConnectionError, OSError, xmlrpc.client.ProtocolError)


def login(lab, url, timeout=CEILING, follow_master=True):
    """A plain SDK session on the pool of ``url``'s host (on its master).

    Follows HOST_IS_SLAVE to the master (unless ``follow_master`` is False:
    then a slave's HOST_IS_SLAVE is raised as it came, naming its master);
    a host that is restarting (refused, HOST_STILL_BOOTING) is retried until
    ``timeout``. The caller logs out (:func:`logout_quietly`).
    """
    return _login(lab, url, timeout, follow_master)[0]


def _login(lab, url, timeout, follow_master=True):
    deadline = time.monotonic() + timeout
    while True:
        sdk = _sdk(lab, url)
        try:
            sdk.xenapi.login_with_password(lab.username, lab.password, '2.0',
                                           'functional-tests')
            return sdk, url
        except XenAPI.Failure as failure:
            code = failure.details[0]
            if code == 'HOST_IS_SLAVE' and follow_master:
                url = _with_address(url, failure.details[1])
                continue
            if code != 'HOST_STILL_BOOTING' or time.monotonic() > deadline:
                raise
        except _NOT_YET:
            if time.monotonic() > deadline:
                raise
        time.sleep(MAX_BACKOFF)


def logout_quietly(sdk):
    try:
        sdk.xenapi.session.logout()
    except Exception:  # noqa: BLE001 - NOTE: what was read is read
        pass


def _read(sdk, url):
    """The pool of the xapi ``sdk`` is logged in on (at ``url``), from its records."""
    x = sdk.xenapi
    (pool_rec,) = x.pool.get_all_records().values()
    records = x.host.get_all_records()
    metrics = x.host_metrics.get_all_records()
    hosts = {}
    for rec in records.values():
        live = metrics.get(rec['metrics'], {}).get('live', False)
        hosts[rec['uuid']] = RealHost(rec['uuid'], rec['address'],
                                      rec['name_label'], bool(rec['enabled']),
                                      bool(live))
    return RealPool(records[pool_rec['master']]['uuid'],
                    pool_rec['name_label'], hosts,
                    urllib.parse.urlsplit(url).hostname)


def read_pool(lab, url, timeout=CEILING):
    """The pool ``url``'s host belongs to, as xapi reports it (see :func:`login`)."""
    sdk, url = _login(lab, url, timeout)
    try:
        return _read(sdk, url)
    finally:
        logout_quietly(sdk)


def read_lab(lab, timeout=CEILING):
    """Every host's own view of its pool (a slave's is not followed).

    :returns: ``(masters, slaves, problems)``: ``masters`` maps the name of
        each host that answers as a master to its :class:`RealPool`;
        ``slaves`` maps the name of each host that answers HOST_IS_SLAVE to
        the address its xapi names as master (as said, not followed);
        ``problems`` says which host's xapi is not running (stopped, booting,
        in emergency mode) or refused the login otherwise.
    """
    masters, slaves, problems = {}, {}, []
    for h in lab.hosts:
        if h.state != 'running':
            problems.append('%s xapi is %s' % (h.name, h.state))
            continue
        try:
            sdk, url = _login(lab, h.url, timeout, follow_master=False)
        except XenAPI.Failure as failure:
            if failure.details[0] == 'HOST_IS_SLAVE':
                slaves[h.name] = failure.details[1]
            else:
                problems.append('%s login: %s' % (h.name, failure.details))
            continue
        try:
            masters[h.name] = _read(sdk, url)
        finally:
            logout_quietly(sdk)
    return masters, slaves, problems


def stranded_slaves(lab, masters, slaves):
    """Slaves (from :func:`read_lab`) that the master they name does not list."""
    by_name = {h.name: h for h in lab.hosts}
    by_address = {h.address: h for h in lab.hosts}
    problems = []
    for name, address in sorted(slaves.items()):
        master = by_address.get(address)
        view = masters.get(master.name) if master else None
        if view is None or by_name[name].uuid not in view.hosts:
            problems.append('%s is a slave of %s, which does not list it'
                            % (name, address))
    return problems


def lab_host(lab, name):
    (h,) = [h for h in lab.hosts if h.name == name]
    return h


def assert_standalone(lab, name, timeout=CEILING):
    """``name`` left every pool: it is its own master, alone, and healthy.

    NOTE: an ejected host keeps answering as a member of its old pool until
    its reboot (xapi's behaviour, simulated): wait for it, bounded.
    """
    h = lab_host(lab, name)
    deadline = time.monotonic() + timeout
    real = read_pool(lab, h.url)
    while list(real.hosts) != [h.uuid] and time.monotonic() < deadline:
        time.sleep(MAX_BACKOFF)
        real = read_pool(lab, h.url)
    assert list(real.hosts) == [h.uuid], real
    assert real.master_uuid == h.uuid
    assert real.answered_by == h.address


