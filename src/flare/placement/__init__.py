"""Placement: where an invocation runs. The concurrency ledger, the pool of execution
environments, the router, and pre-warming for provisioned concurrency (see
design/architecture.md)."""
