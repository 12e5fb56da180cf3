"""The ``xenpool`` application run in-process, with a context of the test's."""

import dataclasses
import io

import pytest

from xenpool_driver.cli import app


class Tty(io.StringIO):
    """A terminal's stdin: the operator's answer."""

    def isatty(self):
        return True


@dataclasses.dataclass
class Result:
    status: int
    out: str
    err: str


@dataclasses.dataclass
class FakePlan:
    """The interface of aggregates.plan.Plan (issue 13) the CLI relies on."""

    operation: str
    aggregate: str
    host: str
    refusal: object = None
    preflight: list = dataclasses.field(default_factory=list)
    calls: list = dataclasses.field(default_factory=list)
    designate: object = None
    losses: object = None

    def to_dict(self):
        data = dataclasses.asdict(self)
        if self.losses is not None:
            data['losses'] = self.losses
        return data


def run(argv, ctx=None, stdin=None):
    """Run ``xenpool argv``; ``ctx`` is the command's context (a mock)."""
    out, err = io.StringIO(), io.StringIO()
    application = app.XenpoolApp(
        stdin=stdin if stdin is not None else io.StringIO(), stdout=out, stderr=err,
        context_factory=(lambda _app: ctx) if ctx is not None else None)
    status = application.run(list(argv))
    return Result(status, out.getvalue(), err.getvalue())


@pytest.fixture
def ctx(mocker):
    """A context whose store finds aggregate ``p1`` and whose workflow is a mock."""
    context = mocker.Mock(name='ctx')
    agg = context.store.get_aggregate.return_value
    agg.name, agg.hosts = 'p1', []
    agg.metadata = {'hypervisor_pool': 'true', 'operational_state': 'active'}
    context.locate.return_value = 'https://10.0.0.2'
    return context
