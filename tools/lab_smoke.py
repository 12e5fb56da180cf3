#!/usr/bin/env python3
"""Smoke test of a running lab with the plain XenAPI SDK.

    xenpool lab serve --hosts 3 --lab-file lab.json --time-scale 0.05 &
    python tools/lab_smoke.py lab.json

Builds a 3-host pool (host 1 master), shows HOST_IS_SLAVE on a slave, ejects
a slave and waits until it is back as a standalone master.
"""

import json
import ssl
import sys
import time

import XenAPI


def session(lab, host):
    if lab.get('ca_file'):
        ctx = ssl.create_default_context(cafile=lab['ca_file'])
        s = XenAPI.Session(host['url'], transport=XenAPI.xmlrpclib.SafeTransport(context=ctx))
    else:
        s = XenAPI.Session(host['url'])
    s.xenapi.login_with_password(lab['username'], lab['password'], '2.21', 'lab-smoke')
    return s


def wait(what, predicate, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                print('  ok:', what)
                return
        except (XenAPI.Failure, OSError, XenAPI.xmlrpclib.Fault):
            pass
        time.sleep(0.2)
    raise SystemExit('timed out waiting for: ' + what)


def main(path):
    with open(path) as f:
        lab = json.load(f)
    master, slaves = lab['hosts'][0], lab['hosts'][1:3]
    m = session(lab, master)
    m.xenapi.pool.set_name_label(m.xenapi.pool.get_all()[0], 'smoke-pool')
    for h in slaves:
        print('join', h['name'])
        s = session(lab, h)
        s.xenapi.pool.join(master['address'], lab['username'], lab['password'])

        def member(h=h):
            ref = m.xenapi.host.get_by_uuid(h['uuid'])
            rec = m.xenapi.host.get_record(ref)
            return rec['enabled'] and m.xenapi.host_metrics.get_live(rec['metrics'])
        wait('%s enabled and live on the master' % h['name'], member)
    print('pool hosts:', sorted(m.xenapi.host.get_record(r)['name_label']
                                for r in m.xenapi.host.get_all()))
    assert len(m.xenapi.host.get_all()) == 3
    try:
        session(lab, slaves[0])
        raise SystemExit('login on a slave should fail')
    except XenAPI.Failure as exc:
        print('login on slave:', exc.details)
        assert exc.details == ['HOST_IS_SLAVE', master['address']]
    victim = slaves[1]
    print('eject', victim['name'])
    m.xenapi.pool.eject(m.xenapi.host.get_by_uuid(victim['uuid']))
    assert len(m.xenapi.host.get_all()) == 2

    def standalone():
        s = session(lab, victim)
        pool = s.xenapi.pool.get_all()
        me = s.xenapi.host.get_by_uuid(victim['uuid'])
        return len(pool) == 1 and s.xenapi.pool.get_master(pool[0]) == me
    wait('%s back as a standalone master' % victim['name'], standalone)
    print('smoke test passed')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else 'lab.json'))
