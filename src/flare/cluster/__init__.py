"""Several ``flare serve`` nodes as one account and region, their shared state on Redis.

``flare serve --cluster redis://host:6379/0 --node-name N`` joins a cluster; without
``--cluster`` a Flare is one node with its SQLite database and imports nothing from here (and
needs no Redis). The client is redis-py (the ``cluster`` extra), Redis's own.

Modules:

    address   the ``--cluster`` URL and ``--node-name``: parsed, checked, reached once at start
    link      the node's Redis clients (``Machine.cluster``) and the cluster's key names
    membership  each node's heartbeat (a TTL judged by Redis's clock), the live nodes, the token
    node      this node's part: what it reports at each beat, the status ``flare cluster status`` shows
    shared_ledger  one account's concurrency across every node (``ledger_script``: its Lua)
    routing   which node runs an invoke: the function's home (rendezvous hashing), spill-over
    forwarding  the invoke route that sends an invoke to that node, over HTTP keep-alive
    provisioned_spread  each node runs its share of a version's provisioned environments
"""
