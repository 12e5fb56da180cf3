import json
import threading
import urllib.request

import pytest
import XenAPI

from tests import passwords
from xenpool_driver.simulator import Lab

SCALE = 0.002


@pytest.fixture
def make_lab():
    """Factory: ``make_lab(hosts=2, **kw)`` -> a started Lab, closed after the test."""
    labs = []

    def make(hosts=2, **kw):
        kw.setdefault('time_scale', SCALE)
        kw.setdefault('password', passwords.PASSWORD)
        lab = Lab(hosts=hosts, **kw)
        passwords.remember(lab.password)
        labs.append(lab)
        return lab.start()
    yield make
    for lab in labs:
        lab.close()


@pytest.fixture
def lab(make_lab):
    return make_lab(2)


@pytest.fixture
def lab3(make_lab):
    return make_lab(3)


def sdk(host, password=passwords.PASSWORD, **kw):
    """A logged-in XenAPI SDK session on ``host``."""
    s = XenAPI.Session(host.url, **kw)
    s.xenapi.login_with_password('root', password, '2.21', 'tests')
    return s


def failure(fn, *args):
    """The ErrorDescription of the XenAPI.Failure ``fn(*args)`` raises."""
    with pytest.raises(XenAPI.Failure) as info:
        fn(*args)
    return info.value.details


def jsonrpc(host, method, params, v2=False, rid=1):
    body = {'method': method, 'params': params, 'id': rid}
    if v2:
        body['jsonrpc'] = '2.0'
    req = urllib.request.Request(host.url + 'jsonrpc', data=json.dumps(body).encode(),
                                 headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def post(host, path, body, ctype='text/xml'):
    """Raw POST: (status, headers, body bytes)."""
    req = urllib.request.Request(host.url.rstrip('/') + path, data=body,
                                 headers={'Content-Type': ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def join(lab, joiner, master=0, force=False):
    """Join host ``joiner`` to ``master`` and wait until it is a running slave."""
    s = sdk(lab.hosts[joiner])
    call = s.xenapi.pool.join_force if force else s.xenapi.pool.join
    call(lab.hosts[master].address, 'root', lab.password)
    assert lab.wait_until(lambda: lab.hosts[joiner].role == 'slave'
                          and lab.hosts[joiner].state == 'running')
    return s


def in_thread(fn, *args):
    """Run ``fn(*args)`` on a thread; returns ``result()``: its value (or
    its exception raised), once it has returned (at most 10 s real)."""
    box = {}

    def run():
        try:
            box['value'] = fn(*args)
        except BaseException as exc:     # handed to the test thread
            box['error'] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result(timeout=10.0):
        thread.join(timeout)
        assert not thread.is_alive(), '%s did not return' % getattr(fn, '__name__', fn)
        if 'error' in box:
            raise box['error']
        return box['value']
    return result
