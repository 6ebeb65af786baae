"""Every host uid and gid Flare's sandbox uses, in one place (the engine and the processes it
forks read the same numbers; stdlib-free, Python 3.9-compatible).

No two kinds of process share a uid, so none can signal, trace or stand in for another:

* ``SANDBOX_UID`` / ``SANDBOX_GID``: Lambda's ``sbx_user1051`` (993 on Lambda), the owner of
  the ``/tmp`` scratch images and the group of every environment.
* ``INIT_UID``: pid 1 of every environment's pid namespace.
* ``ENV_UID_BASE`` + slot: one uid per live on-demand environment (``ENV_UID_SLOTS`` of them),
  so that its Runtime API can tell its own processes from any other's.
* SnapStart templates: template ``k`` gets the block of ``TEMPLATE_BLOCK`` uids starting at
  ``TEMPLATE_UID_BASE + k * TEMPLATE_BLOCK``; the first is the host uid of the template's
  in-namespace root, the rest are the uids of its restores. Its user namespace maps nothing
  else, so its INIT code (root there) can become its own restores and nobody else.
"""

SANDBOX_UID = 993
SANDBOX_GID = 990
INIT_UID = 19_999
ENV_UID_BASE = 20_000
ENV_UID_SLOTS = 10_000
TEMPLATE_UID_BASE = 100_000
TEMPLATE_BLOCK = 1_000
TEMPLATE_SLOTS = 1_000


def template_block(slot: int) -> range:
    """The uids of template ``slot``: its root first, then its restores'."""
    first = TEMPLATE_UID_BASE + slot * TEMPLATE_BLOCK
    return range(first, first + TEMPLATE_BLOCK)
