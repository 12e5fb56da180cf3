"""What a CLI command works with: configuration, lab file, store, workflow.

Credentials come from the config file (``[xenserver] connection_password``),
from oslo.config's environment variables (``OS_XENSERVER__CONNECTION_PASSWORD``)
or from a lab file; never from a command-line argument.
"""

import ipaddress
import json

from xenpool_driver import exception
from xenpool_driver import redaction
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import workflow as workflow_mod
from xenpool_driver.store import checks as store_checks
from xenpool_driver.store import conf as store_conf
from xenpool_driver.store import engine as store_engine
from xenpool_driver.xapi import connector as xconnector


class LabFile(object):
    """A lab file written by ``xenpool lab serve`` (or the demo).

    :ivar hosts: ``{name: {"url", "address", "uuid"}}``, in the file's order.
    """

    def __init__(self, data):
        try:
            self.username = data['username']
            self.password = data['password']
            self.ca_file = data.get('ca_file')
            self.hosts = {h['name']: h for h in data['hosts']}
        except (KeyError, TypeError) as exc:
            raise exception.XenPoolError('malformed lab file: missing %s' % exc)
        redaction.register_secret(self.password)

    @classmethod
    def load(cls, path):
        """Read and check a lab file.

        :raises XenPoolError: unreadable or malformed file.
        """
        try:
            with open(path) as f:
                return cls(json.load(f))
        except (OSError, ValueError) as exc:
            raise exception.XenPoolError('cannot read lab file %s: %s' % (path, exc))

    def url(self, host):
        entry = self.hosts.get(host)
        return entry['url'] if entry else None


def check_store_url(url):
    """Check a store URL for the command line: it must outlive the process.

    :param url: SQLAlchemy URL (``--store`` or ``[store] connection``).
    :returns: ``url``.
    :raises InvalidInput: malformed, or an in-memory SQLite database.
    """
    parsed = store_engine.parse_url(url)
    if store_engine.is_sqlite_memory(parsed):
        # NOTE: every command is a new process: an in-memory store would
        # forget the aggregate it just changed, intent record and all.
        raise store_mod.InvalidInput(
            'store %s is an in-memory database: everything would be lost when '
            'the command exits; use a file (sqlite:///PATH) or a database '
            'server' % parsed.render_as_string(hide_password=True))
    return url


def xapi_url(text):
    """A host's xapi URL as the operator typed it: a bare address means https.

    ``xe -s`` users type ``192.0.2.10``, ``xcp1.example.org``, ``[fd00::1]``
    or ``xcp1:8443``; each means ``https://<it>`` (a bare IPv6 address gets
    its brackets). A URL with a scheme is left as it is.

    :param text: the operator's URL or address, or None.
    :returns: the URL (None for None); :func:`check_host_args` checks it.
    """
    if text is None:
        return None
    text = text.strip()
    if '://' in text or not text:
        return text
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return 'https://' + text
    return 'https://[%s]' % text


def check_host_args(host=None, url=None):
    """Check a command's host name and xapi URL before anything changes.

    :param host: compute host name, or None.
    :param url: ``--url``, or None.
    :raises InvalidInput: a reserved or malformed host name, or a bad URL
        (one with ``user:password@`` is refused; see
        :func:`xenpool_driver.store.checks.check_url`).
    """
    if host is not None:
        store_checks.check_host_name(host)
    if url is not None:
        store_checks.check_url(url)


class Context(object):
    """Lazily built collaborators of a CLI command.

    :param conf: parsed ``ConfigOpts`` (``[xenserver]`` and ``[store]``).
    :param lab: a :class:`LabFile` or None.
    :param store_url: ``--store`` (overrides ``[store] connection``).
    :param progress: callable ``(phase, fraction)`` for long operations.

    Every operation of the workflow it builds is recorded in the store's
    history (``Workflow(..., history=store.record_operation)``).
    """

    def __init__(self, conf, lab=None, store_url=None, progress=None):
        self.conf = conf
        self.lab = lab
        self.progress = progress
        self._store_url = store_url
        self._store = None
        self._connector = None
        self._workflow = None
        if lab is not None:
            # NOTE: the lab supplies credentials and CA; its first host gives
            # the URL template (scheme and port) used to reach masters.
            conf.set_override('connection_username', lab.username, 'xenserver')
            conf.set_override('connection_password', lab.password, 'xenserver')
            if lab.ca_file:
                conf.set_override('ca_file', lab.ca_file, 'xenserver')
            if not conf.xenserver.connection_url and lab.hosts:
                first = next(iter(lab.hosts.values()))
                conf.set_override('connection_url', first['url'], 'xenserver')
        url = conf.xenserver.connection_url
        if url and xapi_url(url) != url:
            # NOTE: "connection_url = 192.0.2.10" means https, as --url does
            conf.set_override('connection_url', xapi_url(url), 'xenserver')
        redaction.register_secret(conf.xenserver.connection_password)

    @property
    def store(self):
        """The aggregate store, opened on first use.

        :raises InvalidInput: the store URL is malformed or in-memory.
        :raises StoreUnavailable: see :class:`~xenpool_driver.store.Store`.
        """
        if self._store is None:
            url = self._store_url or store_conf.connection_url(self.conf)
            # NOTE: the command keeps the host lists itself: the workflow
            # lists a host once it joined, and reconcile repairs the lists.
            self._store = store_mod.Store.from_conf(
                self.conf, url=check_store_url(url), owns_host_lists=True)
        return self._store

    @property
    def connector(self):
        if self._connector is None:
            if not self.conf.xenserver.connection_password:
                raise exception.XenPoolError(
                    'no xapi password: set [xenserver] connection_password in the '
                    'config file, OS_XENSERVER__CONNECTION_PASSWORD, or use --lab-file')
            self._connector = xconnector.from_conf(self.conf)
        return self._connector

    @property
    def workflow(self):
        if self._workflow is None:
            self._workflow = workflow_mod.Workflow(
                lambda: self.connector, conf=self.conf, host_locator=self.locate,
                history=self.record_operation)
            if self.progress is not None:
                self._workflow.progress = self.progress
        return self._workflow

    def record_operation(self, record):
        """The workflow's history sink: the store's ``record_operation``.

        NOTE: the store is opened when the first record comes, not when the
        workflow is built (``pool show`` needs no store).
        """
        return self.store.record_operation(record)

    def locate(self, host):
        """xapi URL of compute host ``host``: the lab file, then the inventory."""
        if self.lab is not None and self.lab.url(host):
            return self.lab.url(host)
        try:
            return self.store.get_host_url(host)
        except store_mod.NotFound:
            return None

    def session(self, url):
        return self.connector.get(url)

    def close(self):
        if self.progress is not None:
            self.progress.close()
        if self._connector is not None:
            self._connector.close()
        if self._store is not None:
            self._store.close()

