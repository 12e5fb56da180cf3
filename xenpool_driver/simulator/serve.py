"""``xenpool lab serve``: run a lab of simulated hosts until SIGINT/SIGTERM.

The lab file (JSON, mode 0600) is written once every host answers and
removed at shutdown. It holds the password: the password is never taken on
the command line (set ``XENPOOL_LAB_PASSWORD`` to choose it).
"""

import argparse
import json
import os
import signal
import sys
import threading
import xmlrpc.client
import ssl

from xenpool_driver.simulator import fixtures
from xenpool_driver.simulator.lab import Lab


def _parser():
    parser = argparse.ArgumentParser(prog='xenpool lab')
    sub = parser.add_subparsers(dest='command', required=True)
    serve = sub.add_parser('serve', help='serve simulated xapi hosts on loopback')
    serve.add_argument('--hosts', type=int, default=3, help='number of hosts (3)')
    serve.add_argument('--lab-file', default='lab.json', help='where to write the lab file')
    serve.add_argument('--time-scale', type=float, default=1.0,
                       help='multiplies every xapi delay (1 = as slow as xapi)')
    serve.add_argument('--tls', action='store_true', help='serve HTTPS with a generated CA')
    serve.add_argument('--vdis', type=int, default=0, metavar='N',
                       help='virtual disks on each host\'s local SR (0): what an '
                            'eject of that host would destroy')
    serve.add_argument('--faults', metavar='PATH',
                       help='JSON fault plan: {"<host index>": [rule, ...]}')
    return parser


def _answers(host, ca_file):
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else None
    proxy = xmlrpc.client.ServerProxy(host.url, context=ctx)
    try:
        return proxy.system.isAlive('ping').get('Value') == 'ping'
    except (OSError, xmlrpc.client.Error):
        return False
    finally:
        proxy('close')()


def write_lab_file(path, data):
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(data, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


def main(argv):
    """``xenpool lab serve [--hosts N] [--lab-file PATH] [--time-scale X] [--tls]``."""
    args = _parser().parse_args(argv)
    if args.hosts < 1:
        sys.stderr.write('--hosts must be at least 1\n')
        return 2
    if args.vdis < 0:
        sys.stderr.write('--vdis must not be negative\n')
        return 2
    faults = None
    if args.faults:
        with open(args.faults) as f:
            faults = {int(k): v for k, v in json.load(f).items()}
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    hosts = [fixtures.HostSpec(vdis=[fixtures.VDISpec(name='disk %d of host%d' % (d, i))
                                     for d in range(1, args.vdis + 1)])
             for i in range(1, args.hosts + 1)]
    lab = Lab(hosts=hosts, time_scale=args.time_scale, tls=args.tls,
              password=os.environ.get('XENPOOL_LAB_PASSWORD') or None, faults=faults)
    lab_file = os.path.abspath(args.lab_file)
    written = False
    try:
        lab.start()
        if not lab.wait_until(lambda: all(_answers(h, lab.ca_file) for h in lab.hosts),
                              timeout=30, interval=0.05):
            sys.stderr.write('simulated hosts did not answer\n')
            return 1
        write_lab_file(lab_file, lab.describe())
        written = True
        for h in lab.hosts:
            sys.stdout.write('%s %s %s\n' % (h.name, h.url, h.uuid))
        sys.stdout.write('lab file: %s (Ctrl-C to stop)\n' % lab_file)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        lab.close()
        if written:
            try:
                os.unlink(lab_file)
            except OSError:
                pass
