"""Passwords used by the test suite; the suite-wide scan looks for each of them.

Every test that needs a password takes it from here (or registers it with
:func:`remember`, as lab fixtures do for generated ones) so that the scan in
``tests/conftest.py`` can prove no log record, exception text or metadata value
ever carries one.
"""

PASSWORD = 'xp-Sekr1t-pw'
OTHER_PASSWORD = 'xp-0ther-Sekr1t'
WRONG_PASSWORD = 'xp-Wr0ng-Sekr1t'

_extra = set()


def remember(password):
    """Add a generated password to the scan."""
    if password:
        _extra.add(password)


def all_passwords():
    return {PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD} | _extra
