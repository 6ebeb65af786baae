"""Several ``flare serve`` nodes as one account and region, their shared state on Redis.

``flare serve --cluster redis://host:6379/0 --node-name N`` joins a cluster; without
``--cluster`` a Flare is one node with its SQLite database and imports nothing from here (and
needs no Redis). The client is redis-py (the ``cluster`` extra), Redis's own.

Modules:

    address   the ``--cluster`` URL and ``--node-name``: parsed, checked, reached once at start
    link      the node's Redis clients (``Machine.cluster``) and the cluster's key names
    redis_event_queue    async events: accepted by any node, leased to one at a time
    redis_queue_store    the SQS-compatible queues' messages, received atomically across nodes
    redis_stream_store   the Kinesis-compatible streams, a Redis stream per shard
    redis_shard_leases   one node at a time per shard of a stream mapping; shared checkpoints

(``flare/queue_homes.py`` picks between these and a node's own SQLite stores.)
"""
