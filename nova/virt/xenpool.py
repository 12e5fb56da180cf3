"""Loads xenpool_driver as a Nova compute driver (Nova 22.4.0, "Victoria").

nova.conf: ``[DEFAULT] compute_driver = xenpool.XenPoolComputeDriver``. Nova
imports ``nova.virt.<compute_driver>``; this module is shipped by the
xenpool_driver distribution into Nova's ``nova.virt`` package (the
out-of-tree convention of that era) and holds nothing but the name.
"""

from xenpool_driver.nova.driver import XenPoolComputeDriver

__all__ = ['XenPoolComputeDriver']
