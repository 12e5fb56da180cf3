"""SessionSettings: built from [xenserver], the password registered for redaction."""

from tests import passwords
from xenpool_driver import conf as xconf
from xenpool_driver.xapi.settings import SessionSettings


def test_from_conf_reads_every_option():
    values = dict(connection_username='admin',
                  connection_password=passwords.OTHER_PASSWORD,
                  login_timeout=3.5, call_timeout=4.5,
                  connection_concurrent=9, ca_file='/etc/ssl/xapi.pem',
                  insecure=True, max_redirects=7, read_retries=8,
                  login_retries=9)
    s = SessionSettings.from_conf(xconf.build(xenserver=values))
    assert (s.username, s.password, s.login_timeout, s.call_timeout,
            s.concurrent, s.ca_file, s.insecure, s.max_redirects,
            s.read_retries, s.login_retries) == tuple(values.values())
    assert passwords.OTHER_PASSWORD not in repr(s)


def test_settings_register_password_for_redaction():
    from xenpool_driver import redaction
    SessionSettings('root', 'xp-registered-at-creation')
    assert 'xp-registered-at-creation' not in redaction.redact(
        'pw=xp-registered-at-creation')
