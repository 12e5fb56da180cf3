"""XenOrchestra's own xen-api client as a benchmark peer (``xo_peer.mjs``).

:class:`XoPeer` runs ``node tools/benchlib/xo_peer.mjs`` against a lab and
times the pool operations the way XenOrchestra does them (a join, an eject,
the master's removal: designate then eject), each measured by the node
program itself (``performance.now()``). The client comes from
``tests/functional/xo/node_modules`` (``npm ci --prefix tests/functional/xo``).

The password goes to the program as its first stdin line, never on its
command line.
"""

import collections
import json
import os
import queue
import shutil
import subprocess
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'tools', 'benchlib', 'xo_peer.mjs')
XEN_API = os.path.join(ROOT, 'tests', 'functional', 'xo', 'node_modules', 'xen-api',
                       'package.json')
INSTALL = 'npm ci --prefix tests/functional/xo --no-audit --no-fund'

#: Real seconds one step of a command may take in the node program.
STEP_TIMEOUT = 30.0
#: Steps of the longest command (remove_master): designate, follow, live, eject.
STEPS_PER_COMMAND = 4
#: Lines of the program's stderr kept for an error report.
STDERR_LINES = 40


def available():
    """``(True, '')`` when node and XenOrchestra's xen-api are installed, else
    ``(False, reason)``."""
    if shutil.which('node') is None:
        return False, 'node is not installed'
    if not os.path.isfile(XEN_API):
        return False, "XenOrchestra's xen-api is not installed (run: %s)" % INSTALL
    return True, ''


class XoPeer(object):
    """One long-running ``xo_peer.mjs``: a XenOrchestra keeping a client per pool.

    :param lab: a started :class:`~xenpool_driver.simulator.lab.Lab` (its
        ``username``, ``password``, ``ca_file``, ``time_scale``).
    :param transport: xen-api's transport, ``'json-rpc'`` or ``'xml-rpc'``.
    :param scale_client: scale the client's own real-time waits (its event
        debounce, its pauses after an event.from error and before a login
        retry) by ``lab.time_scale``, as the bench scales the driver's; False
        keeps XenOrchestra's as shipped.
    :param step_timeout: real seconds one step may take before it is an error.

    A URL names the client ``connect`` made for it, or a connected client now
    talking to that host (a client follows HOST_IS_SLAVE, and after
    ``remove_master`` the old master's client is the new master's).
    """

    def __init__(self, lab, transport='json-rpc', scale_client=True, step_timeout=STEP_TIMEOUT):
        self.lab = lab
        self.transport = transport
        self.scale = lab.time_scale if scale_client else 1.0
        self.step_timeout = step_timeout
        self._proc = None
        self._replies = queue.Queue()
        self._stderr = collections.deque(maxlen=STDERR_LINES)
        self._threads = []
        #: The last command's whole reply (remove_master's has its phases).
        self.last_reply = None

    # -- lifecycle ----------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        ok, reason = available()
        if not ok:
            raise RuntimeError('xo peer: start: %s' % reason)
        cfg = {'user': self.lab.username, 'transport': self.transport,
               'stepTimeoutMs': int(self.step_timeout * 1000), 'timeScale': self.scale}
        env = dict(os.environ)
        if self.lab.ca_file:
            env['NODE_EXTRA_CA_CERTS'] = self.lab.ca_file
        self._proc = subprocess.Popen(
            [shutil.which('node'), SCRIPT, json.dumps(cfg)], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        for target, stream in ((self._read_stdout, self._proc.stdout),
                               (self._read_stderr, self._proc.stderr)):
            t = threading.Thread(target=target, args=(stream,), daemon=True,
                                 name='xo-peer-reader')
            t.start()
            self._threads.append(t)
        self._send({'password': self.lab.password})

    def close(self):
        """Disconnect every client and end the program (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._send({'cmd': 'disconnect_all'}, proc)
                self._reply('disconnect_all', proc, self.step_timeout + 5.0)
        except RuntimeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=self.step_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for t in self._threads:
                t.join(5.0)

    # -- commands -----------------------------------------------------------
    def connect(self, url):
        """A client for ``url``'s pool, its object cache fetched (untimed)."""
        return self._command('connect', url=url)

    def add(self, joiner_url, master_url, master_address):
        """``pool.join`` on the joiner until the master's cache shows it enabled
        and live: seconds. Both clients connected beforehand."""
        return self._command('add', joiner=joiner_url, master=master_url,
                             masterAddress=master_address)['seconds']

    def remove(self, master_url, host_uuid):
        """``pool.eject`` of a slave through the master's client: seconds."""
        return self._command('remove', master=master_url, hostUuid=host_uuid)['seconds']

    def remove_master(self, master_url, new_master_uuid, host_uuid, new_master_url):
        """``pool.designate_new_master`` then ``pool.eject`` of the old master
        from the new one, once it shows the old master enabled and live: seconds."""
        return self._command('remove_master', master=master_url, newMasterUuid=new_master_uuid,
                             hostUuid=host_uuid, newMasterUrl=new_master_url)['seconds']

    # -- plumbing -----------------------------------------------------------
    def _command(self, name, **args):
        proc = self._proc
        if proc is None:
            raise RuntimeError('xo peer: %s: not started' % name)
        args['cmd'] = name
        self._send(args, proc)
        reply = self._reply(name, proc, self.step_timeout * STEPS_PER_COMMAND + 5.0)
        self.last_reply = reply
        if not reply.get('ok'):
            code = reply.get('code')
            error = reply.get('error')
            if code and code not in error:
                error = '%s (%s)' % (error, code)
            raise RuntimeError('xo peer: %s: %s' % (reply.get('step') or name, error))
        return reply

    def _send(self, obj, proc=None):
        proc = proc or self._proc
        try:
            proc.stdin.write(json.dumps(obj) + '\n')
            proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise RuntimeError('xo peer: %s: the program is gone (%s)%s'
                               % (obj.get('cmd', 'start'), exc, self._tail()))

    def _reply(self, name, proc, timeout):
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            # NOTE: a late reply would answer the next command: end the program
            proc.kill()
            raise RuntimeError('xo peer: %s: no reply after %.0f s%s'
                               % (name, timeout, self._tail()))
        if line is None:
            raise RuntimeError('xo peer: %s: the program exited (%s)%s'
                               % (name, proc.poll(), self._tail()))
        return line

    def _read_stdout(self, stream):
        for line in stream:
            try:
                obj = json.loads(line)
            except ValueError:
                self._stderr.append('stdout: ' + line.rstrip())
                continue
            if isinstance(obj, dict) and 'ok' in obj:
                self._replies.put(obj)
        self._replies.put(None)

    def _read_stderr(self, stream):
        for line in stream:
            self._stderr.append(line.rstrip())

    def _tail(self):
        lines = [line.replace(self.lab.password, '***') for line in list(self._stderr)[-8:]]
        return ('\nstderr: ' + '\n'.join(lines)) if lines else ''
