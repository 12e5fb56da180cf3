"""The driver inside a real compute service: Nova 22.4.0 ("Victoria").

Nova loads ``[DEFAULT] compute_driver = xenpool.XenPoolComputeDriver`` as
``nova.virt.xenpool.XenPoolComputeDriver``; this distribution ships that small
module (``nova/virt/xenpool.py``, the out-of-tree convention of that era),
which re-exports :class:`xenpool_driver.nova.driver.XenPoolComputeDriver`.

* :mod:`.errors` - the one place our errors become Nova's
  (``AggregateError``, ``InvalidAggregateActionDelete``), so that Nova's
  compute manager runs ``undo_aggregate_operation``;
* :mod:`.aggregates` - the compute host's pool aggregates, read with Nova's
  own objects, for ``init_host``;
* :mod:`.driver` - the ``nova.virt.driver.ComputeDriver`` subclass.

Everything here imports nova; nothing else in the package does.
"""
