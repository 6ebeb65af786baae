"""AWS's own definitions of the services Flare answers: botocore's service models, the
operation tables built from them, and the checks of a request against them. Pure: nothing here
touches HTTP or the engine."""
