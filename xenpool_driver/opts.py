"""Every option of the project, for ``oslo-config-generator``.

Entry point ``oslo.config.opts = xenpool_driver``; ``tox -e genconfig``
regenerates ``etc/xenpool_driver/xenpool_driver.conf.sample``.

NOTE: a module of its own above :mod:`xenpool_driver.conf` (the driver's
``[xenserver]``) and :mod:`xenpool_driver.store.conf` (the command's
``[store]``): neither imports the other, and the driver needs no store.
"""

from xenpool_driver import conf
from xenpool_driver.store import conf as store_conf


def list_opts():
    """``[(group, [opts])]`` for every group, in the sample's order."""
    return [(conf.xenserver_group, conf.xenserver_opts)] + store_conf.list_opts()
