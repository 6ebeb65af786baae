"""The ``flare`` profile in the user's AWS shared credentials file.

The first ``flare serve --auth sigv4`` on a new data dir writes its admin key there
(``admin_key.py``), so that boto3 (``boto3.Session(profile_name="flare")``), the AWS CLI
(``--profile flare``) and the ``flare`` CLI (by itself) sign with it. The file is
``$AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials``, as botocore finds it; a profile
already there is never changed.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

PROFILE = "flare"
FILE_VARIABLE = "AWS_SHARED_CREDENTIALS_FILE"


def credentials_file(environ: Mapping[str, str]) -> Path:
    """Where botocore reads shared credentials: ``$AWS_SHARED_CREDENTIALS_FILE``, else
    ``~/.aws/credentials`` (``~`` from ``$HOME``)."""
    named = environ.get(FILE_VARIABLE)
    if named:
        return Path(named).expanduser()
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".aws" / "credentials"


def read_profile(path: Path, name: str = PROFILE) -> tuple[str, str] | None:
    """``(access key id, secret)`` of profile ``name`` in ``path``, or None when the file, the
    profile or either value is missing (or the file is unreadable)."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return None
    if not parser.has_section(name):
        return None
    key = parser.get(name, "aws_access_key_id", fallback="").strip()
    secret = parser.get(name, "aws_secret_access_key", fallback="").strip()
    return (key, secret) if key and secret else None


def has_profile(path: Path, name: str = PROFILE) -> bool:
    """Whether ``path`` has a section ``[name]`` at all."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return False
    return parser.has_section(name)


def write_profile(path: Path, key: str, secret: str, name: str = PROFILE) -> None:
    """Append profile ``name`` with ``key`` and ``secret`` to ``path`` (made 0600, in a
    directory made 0700, when missing). The caller has checked the profile is not there."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = path.read_text() if path.exists() else ""
    separator = (
        "" if not existing or existing.endswith("\n\n") else ("\n" if existing.endswith("\n") else "\n\n")
    )
    section = f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a") as file:
        file.write(separator + section)
