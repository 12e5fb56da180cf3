"""What a session needs to reach xapi, built from ``[xenserver]`` options."""

import dataclasses

from xenpool_driver import redaction


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    """Everything needed to reach xapi, and the limits of its recoveries.

    :param username: xapi user.
    :param password: xapi password (registered with redaction at creation).
    :param login_timeout: seconds for connect + login (and the login's
        retries, :data:`~.recovery.RETRY_LOGIN`).
    :param call_timeout: seconds for one call's socket (and a read-only
        call's retries, :data:`~.recovery.RETRY_READ`).
    :param concurrent: size of the bounded SDK-session pool per host.
    :param ca_file: CA bundle for TLS verification (None: system store).
    :param insecure: disable TLS verification.
    :param max_redirects: HOST_IS_SLAVE hops followed for one call.
    :param read_retries: retries of a read-only call on a transient error.
    :param login_retries: retries of a login on a transient error.

    NOTE: how long a pool operation waits is not here: see
    :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts`.
    """

    username: str
    password: str = dataclasses.field(repr=False)
    login_timeout: float = 10.0
    call_timeout: float = 60.0
    concurrent: int = 5
    ca_file: str | None = None
    insecure: bool = False
    max_redirects: int = 3
    read_retries: int = 3
    login_retries: int = 4

    def __post_init__(self):
        # NOTE: the one choke point: from here on, every exception text and
        # redacted log line masks this password.
        redaction.register_secret(self.password)

    @classmethod
    def from_conf(cls, conf):
        """Build from an oslo.config ``ConfigOpts`` with ``[xenserver]`` registered."""
        group = conf.xenserver
        return cls(username=group.connection_username,
                   password=group.connection_password or '',
                   login_timeout=group.login_timeout,
                   call_timeout=group.call_timeout,
                   concurrent=group.connection_concurrent,
                   ca_file=group.ca_file,
                   insecure=group.insecure,
                   max_redirects=group.max_redirects,
                   read_retries=group.read_retries,
                   login_retries=group.login_retries)
