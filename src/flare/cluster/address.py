"""Where a cluster's Redis is and what this node is called: checked before the engine starts.

``parse_url`` accepts what redis-py's ``from_url`` does and a user would write: ``redis://``,
``rediss://`` (TLS) and ``unix://`` URLs, with an optional database number. ``check_node_name``
keeps names to what fits in a Redis key and a log line. ``reach`` connects once and sends PING,
so a wrong address stops ``flare serve`` with a message instead of a node that fails later.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

SCHEMES = ("redis", "rediss", "unix")
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
REACH_TIMEOUT_S = 3.0


def parse_url(url: str) -> str:
    """``url`` if it names a Redis server redis-py can reach, else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"{url!r}: a cluster URL starts with redis://, rediss:// or unix://")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"{url!r}: a unix:// URL names the socket's path")
        return url
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise ValueError(f"{url!r}: the path is a database number (redis://host:6379/0)")
    return url


def check_node_name(name: str | None) -> str:
    """``name``, or this host's name when None; ValueError unless it is 1 to 63 of
    letters, digits, '.', '_' and '-', starting with a letter or digit."""
    chosen = socket.gethostname() if name is None else name
    if not NODE_NAME.match(chosen):
        raise ValueError(
            f"{chosen!r}: a node name is 1 to 63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return chosen


def reach(url: str) -> str | None:
    """None when the Redis at ``url`` answers PING within ``REACH_TIMEOUT_S``; else why not."""
    try:
        import redis
    except ImportError:
        return "the redis package is missing: pip install 'flare[cluster]'"
    client = redis.Redis.from_url(url, socket_connect_timeout=REACH_TIMEOUT_S, socket_timeout=REACH_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"Redis at {url} does not answer: {error}"
    finally:
        client.close()
    return None
