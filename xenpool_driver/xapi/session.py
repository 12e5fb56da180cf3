"""XAPI session layer over the XenAPI SDK.

INTERFACE CONTRACT (bodies are being implemented; signatures are fixed).

A :class:`XapiSession` is a thread-safe handle on one xapi endpoint (one
host URL, following HOST_IS_SLAVE redirects to the master). Internally it
keeps a bounded pool of SDK ``XenAPI.Session`` objects (size
``connection_concurrent``), each with a transport that applies the login and
call timeouts and the TLS settings. Every XAPI call goes through
:meth:`XapiSession.call`, the one place where SDK/transport errors are
translated into :mod:`xenpool_driver.exception` errors and secrets redacted.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    """Everything needed to reach xapi; built from ``[xenserver]`` options.

    :param username: xapi user.
    :param password: xapi password (registered with redaction at creation).
    :param login_timeout: seconds for connect + login.
    :param call_timeout: seconds for one call's socket.
    :param concurrent: size of the bounded SDK-session pool per host.
    :param ca_file: CA bundle for TLS verification (None: system store).
    :param insecure: disable TLS verification.
    :param task_timeout: seconds to await an async task.
    :param live_timeout: seconds to await a host becoming enabled and live.
    """

    username: str
    password: str = dataclasses.field(repr=False)
    login_timeout: float = 10.0
    call_timeout: float = 60.0
    concurrent: int = 5
    ca_file: str | None = None
    insecure: bool = False
    task_timeout: float = 900.0
    live_timeout: float = 600.0

    @classmethod
    def from_conf(cls, conf):
        """Build from an oslo.config ``ConfigOpts`` with ``[xenserver]`` registered."""
        raise NotImplementedError


def url_for_address(template_url, address):
    """Return ``template_url`` with its host replaced by ``address``.

    Scheme, port and path are kept: ``url_for_address('https://10.0.0.1:8443',
    '10.0.0.2') == 'https://10.0.0.2:8443'``. Used to reach a master from the
    address recorded in metadata or carried by HOST_IS_SLAVE.
    """
    raise NotImplementedError


class XapiSession(object):
    """A thread-safe handle on one xapi (see module docstring).

    :param url: the xapi URL to start from (may be a slave: HOST_IS_SLAVE is
        followed to ``details[1]``, at login and mid-session; bounded).
    :param settings: :class:`SessionSettings`.
    :param sleep: injectable sleep for retry back-off (tests never sleep).
    :param clock: injectable monotonic clock.
    :param session_factory: builds an SDK session: ``factory(url, transport)``;
        defaults to ``XenAPI.Session``.
    """

    def __init__(self, url, settings, sleep=None, clock=None, session_factory=None):
        raise NotImplementedError

    #: URL currently used (after following redirects).
    url = None

    #: The :class:`SessionSettings` this handle was built with.
    settings = None

    @property
    def address(self):
        """Host part of :attr:`url` (what xapi calls ``host.address``)."""
        raise NotImplementedError

    @property
    def call_counts(self):
        """``collections.Counter`` of XAPI method name -> calls made (wire calls)."""
        raise NotImplementedError

    def call(self, method, *args):
        """Call ``method`` (e.g. ``"pool.get_all"``) with the session prepended.

        Read-only methods (``*.get_*``, ``event.from``, ...) are retried on
        connection refused/reset and HOST_STILL_BOOTING (named tenacity policy);
        others are never retried. HOST_IS_SLAVE re-points the handle at the
        master and the call is made there (bounded number of hops).

        :returns: the call's value, decoded by the SDK.
        :raises XapiUnavailable: no xapi answered (``maybe_applied`` set when
            the request may have been sent before the connection dropped).
        :raises XapiTimeout: the socket timed out.
        :raises XapiError: xapi answered an error (code, params, method, host).
        """
        raise NotImplementedError

    def call_async(self, method, *args, timeout=None, on_progress=None):
        """Run ``Async.<method>`` and await the task through ``event.from``.

        The event token is taken before the first read of the task. On timeout
        the task is cancelled (``task.cancel``) and :class:`XapiTimeout` raised.
        The task is destroyed once read.

        :param timeout: seconds (default: settings.task_timeout).
        :param on_progress: called with the task's progress (0.0..1.0) as it
            changes.
        :returns: the task's decoded result (``""`` for void calls).
        :raises XapiError: the task failed: XAPI's code and params from
            ``error_info`` (``TASK_CANCELLED`` when cancelled).
        :raises XapiTimeout: the task did not finish in time (it was cancelled).
        """
        raise NotImplementedError

    def wait_for(self, classes, check, timeout, what):
        """Wait, driven by ``event.from``, until ``check()`` returns non-None.

        Takes an event token first, then evaluates ``check()`` (which may make
        calls on this session), then evaluates it again after each batch of
        events on ``classes`` until it returns something other than None.
        Survives an xapi restart (connection refused, HOST_STILL_BOOTING,
        SESSION_INVALID, HOST_IS_SLAVE) by re-connecting and re-reading.

        :param classes: XAPI class names, e.g. ``["host", "host_metrics"]``.
        :param check: callable returning None (not yet) or the result.
        :param timeout: seconds.
        :param what: description for the timeout error.
        :returns: what ``check()`` returned.
        :raises XapiTimeout: not reached within ``timeout``.
        """
        raise NotImplementedError

    def close(self):
        """Log out every pooled SDK session; the handle may not be used after."""
        raise NotImplementedError


class Connector(object):
    """Hands out one :class:`XapiSession` per URL (cached), from settings.

    :param settings: :class:`SessionSettings`.
    """

    def __init__(self, settings, sleep=None, clock=None, session_factory=None):
        raise NotImplementedError

    def get(self, url):
        """Return the cached :class:`XapiSession` for ``url`` (created on demand)."""
        raise NotImplementedError

    def close(self):
        """Close every session handed out."""
        raise NotImplementedError
