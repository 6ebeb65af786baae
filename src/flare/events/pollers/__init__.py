"""Event source pollers: one per mapping, reading a queue or a stream and invoking the function."""
