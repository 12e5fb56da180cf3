"""Fixtures of the session-layer tests: a scripted xapi, a clock, a handle on both."""

import pytest

from tests.unit.xapi.fakes import A, Clock, FakeXapi, settings
from xenpool_driver.xapi.session import XapiSession


@pytest.fixture
def fake():
    return FakeXapi()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def xs(fake, clock):
    """A handle on ``A``: the scripted xapi, the injected clock and sleep."""
    return XapiSession(A, settings(), sleep=clock.sleep, clock=clock,
                       session_factory=fake.factory)
