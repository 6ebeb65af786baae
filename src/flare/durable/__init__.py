"""Durable functions (issue 17): executions, the checkpoint protocol and their timers.

``status`` is the execution's state machine, ``operations`` the pure rules that turn the SDK's
operation updates into operations and history events, ``history`` the execution's own events,
``wire`` the shapes the SDK and the API see, ``executions`` the actor that starts, invokes,
checkpoints, wakes and ends executions.
"""
