#!/usr/bin/env python3
"""Throughput of one simulated host: XAPI calls per second it serves to one
keep-alive XML-RPC client, and to 8 concurrent clients.

    python tools/sim_bench.py [--seconds 3] [--method host.get_name_label]

The client is ``xmlrpc.client.ServerProxy`` (HTTP/1.1 keep-alive, as the
XenAPI SDK's transport); a cheap getter is called in a loop. The figure
includes the client's own cost (both run on this machine).
"""

import argparse
import os
import sys
import threading
import time
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from xenpool_driver.simulator import Lab  # noqa: E402


def _client(lab, host):
    proxy = xmlrpc.client.ServerProxy(host.url)
    result = proxy.session.login_with_password(lab.username, lab.password)
    return proxy, result['Value']


def run(lab, clients, seconds, method):
    host = lab.hosts[0]
    counts = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker(i):
        proxy, session = _client(lab, host)
        ref = proxy.host.get_all(session)['Value'][0]
        call = getattr(proxy, method)
        start.wait()
        n = 0
        while not stop.is_set():
            assert call(session, ref)['Status'] == 'Success'
            n += 1
        counts[i] = n
        proxy('close')()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=3.0)
    parser.add_argument('--method', default='host.get_name_label')
    args = parser.parse_args(argv)
    with Lab(hosts=1, time_scale=0.001) as lab:
        one = run(lab, 1, args.seconds, args.method)
        eight = run(lab, 8, args.seconds, args.method)
    print('simulated host, %s over XML-RPC keep-alive:' % args.method)
    print('  1 client : %8.0f calls/s' % one)
    print('  8 clients: %8.0f calls/s' % eight)
    return 0


if __name__ == '__main__':
    sys.exit(main())
