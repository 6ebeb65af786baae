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
    redis_stores             the node's ``StoreBackend``: which concerns are on Redis
    redis_functions          functions, versions, aliases, version counters (Lua CAS)
    redis_policies           resource-based policies
    redis_layers             layer versions, counters, permissions
    redis_urls               function URL configs
    redis_function_settings  recursion and runtime management configs
    redis_code_signing       code signing configs and bindings
    redis_invoke_configs     event invoke configs (retries, destinations of async invokes)
    redis_schedules          keep-warm schedules, each firing claimed by one node
    redis_settings           reserved and provisioned concurrency settings
    redis_role_policies      execution roles' policies
    redis_access_keys        the access keys of ``--auth sigv4`` (``flare keys --cluster``)
    redis_secrets            Flare's own secrets
    redis_blobs              code and layer zips, content-addressed, fetched on first use
    change_notice            a write and its change notice, in one ``MULTI``
    registry_changes         every node hears the others' changes and reads them back
    redis_event_queue    async events: accepted by any node, leased to one at a time
    redis_queue_store    the SQS-compatible queues' messages, received atomically across nodes
    redis_stream_store   the Kinesis-compatible streams, a Redis stream per shard
    redis_shard_leases   one node at a time per shard of a stream mapping; shared checkpoints
    cluster_logs  CloudWatch Logs calls answered for every node: logs stay where written
    log_parts     what one node answers of its own logs (its part of such a call)
    log_merge     the nodes' parts merged into one answer; paging over every node
    log_peers     asking the other live nodes their part, node to node over HTTP
    cluster_tail  a Live Tail over every node: one set of cursors per node

(``flare/queue_homes.py`` picks between these and a node's own SQLite stores.) What each shares
and how: docs/cluster-registry.md.
"""
