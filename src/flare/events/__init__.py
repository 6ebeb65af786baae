"""Asynchronous invocation and event source mappings: everything that invokes a function on
someone else's behalf, through the same router as a synchronous invoke."""
