"""``/var/runtime/bootstrap.py``: Flare's Python runtime when a wrapper script starts it.

A function with ``AWS_LAMBDA_EXEC_WRAPPER`` set is started as Lambda starts it: the wrapper runs
with the runtime's command line as its arguments (``/var/lang/bin/python3.N`` then this file,
last), may change the environment or the interpreter's options, and ``exec``s them. This file
then does what the zygote does for a forked environment (``lambda_python.zygote``): it takes the
frames channel and the handler from ``_FLARE_RUNTIME`` (removed before any user code runs), sets
the import path and serves invocations. Unlike a forked runtime, the environment is left as the
wrapper made it. Stdlib only, Python 3.9 syntax, runs in the environment.
"""

import json
import os
import socket
import sys


def main() -> int:
    spec = json.loads(os.environ.pop("_FLARE_RUNTIME"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from lambda_python import bootstrap

    bootstrap.set_import_path(spec)
    return bootstrap.run(socket.socket(fileno=spec["fd"]), spec["handler"], spec.get("debug"))


if __name__ == "__main__":
    os._exit(main())
