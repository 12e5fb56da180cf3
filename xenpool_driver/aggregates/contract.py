"""The aggregate contract (duck-typed, like the classic compute aggregate).

An aggregate object has:

* ``id`` - its id (int or str);
* ``name`` - its name (becomes the pool's ``name_label``);
* ``hosts`` - list of compute host names (maintained by the caller: the
  compute service adds the host before ``add_to_aggregate`` and removes it
  after ``remove_from_aggregate``);
* ``metadata`` - dict of str to str;
* ``update_metadata(updates)`` - apply ``updates``; a ``None`` value deletes
  the key; ``metadata`` reflects the stored state afterwards.

Optionally, for atomic state changes:

* ``compare_and_set_metadata(expected, updates) -> bool`` - atomically: if
  for every key of ``expected`` the stored value equals ``expected[key]``
  (``None`` meaning the key is absent), apply ``updates`` (``None`` deletes)
  and return True; otherwise change nothing and return False. Either way
  ``metadata`` is refreshed from the store before returning.

Optionally, when the host list is the driver's to keep (the ``xenpool``
command's store; a compute service keeps its own):

* ``host_list_is_ours = True`` with ``add_host(host)`` and
  ``delete_host(host)``: the workflow lists a host it added and unlists a host
  it removed, and reconcile repairs the list from the recorded hosts.

Where ``compare_and_set_metadata`` is offered the workflow uses it, so that two
requests can never both leave ``created``/``active`` for ``changing``.
"""

import typing


@typing.runtime_checkable
class Aggregate(typing.Protocol):
    id: typing.Any
    name: str
    hosts: list
    metadata: dict

    def update_metadata(self, updates): ...


@typing.runtime_checkable
class AtomicAggregate(Aggregate, typing.Protocol):
    def compare_and_set_metadata(self, expected, updates): ...


def owns_host_list(aggregate):
    """Tell whether ``aggregate``'s host list is ours to repair.

    The store's aggregates say so (``host_list_is_ours = True``, with
    ``add_host(host)`` / ``delete_host(host)``); a compute service's host list
    belongs to the service (it changes it before and after each hook), so it
    is only reported.
    """
    return bool(getattr(aggregate, 'host_list_is_ours', False))


def supports_cas(aggregate):
    """Tell whether ``aggregate`` offers ``compare_and_set_metadata``."""
    return callable(getattr(aggregate, 'compare_and_set_metadata', None))
