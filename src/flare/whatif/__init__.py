"""What-if replay: a recorded trace's arrivals run through a model of the engine, under its own
configuration or a changed one (``flare trace replay``; docs/trace.md).

``service`` holds the service times read from the trace, ``scenario`` parses what-ifs,
``model`` is the simulation (the placement decisions of ``flare.placement`` on a simulated
clock, no processes), ``billing`` prices the result and ``report`` prints it side by side.
"""
