"""Execution roles' policies for tests whose functions call Flare with their own credentials:
since Flare authorizes those calls as the function's role (``iam/``), such a test attaches the
policy its functions need, as an operator would with ``flare roles put``."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from tests.signing import signed_urlopen

ALLOW_ALL: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"},
}


def attach_policy(url: str, role_arn: str, document: dict[str, Any], name: str = "test") -> None:
    """Attach ``document`` to ``role_arn`` (a role of the default account, whose key the tests'
    signed requests use) on the Flare at ``url``."""
    query = urllib.parse.urlencode({"RoleArn": role_arn, "PolicyName": name})
    request = urllib.request.Request(
        f"{url}/flare/v1/roles/policies?{query}",
        data=json.dumps(document).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with signed_urlopen(request, timeout=10) as response:
        response.read()
