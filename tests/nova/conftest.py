"""Nova 22.4.0's real compute manager drives the driver (``tox -e nova``).

Only collected where nova is installed (the ``nova`` tox env, installed with
``tests/nova/constraints.txt``): elsewhere the directory is skipped with a
reason, unless ``XENPOOL_REQUIRE_NOVA=1`` (CI's nova step), where a missing
nova fails the run instead.

What is Nova's own here: its configuration (each compute host's nova.conf,
built from the README's block), its API and main databases on SQLite
(``nova.tests.fixtures.Database``), its ``ComputeManager`` (which loads the
driver with ``nova.virt.driver.load_compute_driver``), its
``nova.objects.Aggregate`` and the RPC serializer an aggregate crosses on its
way from nova-api to the compute host. What the tests do themselves is what
nova-api does before each cast: ``add_host`` / ``delete_host`` in the API
database, then the cast's method on the named host's manager.
"""

import os

import pytest

REQUIRED = os.environ.get('XENPOOL_REQUIRE_NOVA') == '1'

try:
    from nova.compute import manager as _manager  # noqa: F401
except ImportError as exc:
    if REQUIRED:
        raise RuntimeError('XENPOOL_REQUIRE_NOVA=1 but nova cannot be imported: %s'
                           % exc) from exc
    collect_ignore_glob = ['test_*.py']
    _SKIP_REASON = 'nova is not installed (tox -e nova installs nova 22.4.0)'
else:
    _SKIP_REASON = None

if _SKIP_REASON is None:
    from tests.nova.harness import (NovaCloud, nova_databases,  # noqa: F401
                                    nova_process)


def pytest_report_header(config):
    if _SKIP_REASON:
        return 'tests/nova: skipped, ' + _SKIP_REASON
    import nova.version
    return 'tests/nova: nova %s' % nova.version.version_string()


if _SKIP_REASON is None:
    @pytest.fixture(params=['http', 'tls'])
    def cloud(request, nova_databases, tmp_path):
        """Three compute hosts, each with its own xapi (a lab host) and manager."""
        made = NovaCloud(tmp_path, hosts=3, tls=request.param == 'tls')
        try:
            yield made
        finally:
            made.close()

    @pytest.fixture
    def make_cloud(nova_databases, tmp_path):
        clouds = []

        def make(**kw):
            clouds.append(NovaCloud(tmp_path / str(len(clouds)), **kw))
            return clouds[-1]
        try:
            yield make
        finally:
            for c in clouds:
                c.close()
