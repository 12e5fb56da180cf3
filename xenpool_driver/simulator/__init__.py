"""A simulated xapi: XCP-ng hosts on loopback that the XenAPI SDK talks to.

Independent of the driver. Layers: :mod:`.model` (pure data),
:mod:`.methods`, :mod:`.pool_join` and :mod:`.pool_members` (XAPI verbs),
:mod:`.rpc` and :mod:`.http_server` (wire), :mod:`.faults` (declarative fault plan),
:mod:`.fixtures` (host builds), :mod:`.lab` (N hosts, the context manager)
and :mod:`.serve` (``xenpool lab serve``).
"""

from xenpool_driver.simulator.errors import XapiError  # noqa: F401
from xenpool_driver.simulator.fixtures import HostSpec, VDISpec, VMSpec  # noqa: F401
from xenpool_driver.simulator.lab import Lab, Timings  # noqa: F401
