"""The suite-wide secret scan finds a leak when there is one."""

from tests import conftest
from tests import passwords


def test_scan_finds_a_leaked_password(monkeypatch):
    leaked = 'login as root/' + passwords.PASSWORD
    monkeypatch.setattr(conftest, '_records', [('some.logger', leaked)])
    monkeypatch.setattr(conftest, '_exception_texts', [])
    leaks = conftest.find_leaks()
    assert [where for where, _hint in leaks] == ['some.logger']
    # the report never echoes the password itself
    assert all(passwords.PASSWORD not in hint for _where, hint in leaks)


def test_scan_is_quiet_on_clean_text(monkeypatch):
    monkeypatch.setattr(conftest, '_records', [('some.logger', 'login as root/***')])
    monkeypatch.setattr(conftest, '_exception_texts', [('t', 'XAPI error HOST_IS_SLAVE')])
    assert conftest.find_leaks() == []
