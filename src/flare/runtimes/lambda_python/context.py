"""The handler's ``context`` object, attribute for attribute as awslambdaric builds it."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

_ENVIRON: dict[bytes, bytes] | None = getattr(os.environ, "_data", None)
"""CPython's own mapping behind ``os.environ`` (encoded names to encoded values): every
``os.environ`` change lands in it, and it is read here without ``os.environ``'s four Python-level
calls per name (five names per invocation)."""
_FS_ENCODING = sys.getfilesystemencoding()


def environment_variable(name: bytes) -> str | None:
    """``os.environ.get(name.decode())``, as cheaply as it can be read."""
    if _ENVIRON is None:
        return os.environ.get(name.decode())
    value = _ENVIRON.get(name)
    return None if value is None else value.decode(_FS_ENCODING, "surrogateescape")


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: str | None = None, pool_id: str | None = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = ("app_package_name", "app_title", "app_version_code", "app_version_name", "installation_id")

    def __init__(self, client: dict[str, Any]) -> None:
        self.installation_id = client.get("installation_id")
        self.app_title = client.get("app_title")
        self.app_version_name = client.get("app_version_name")
        self.app_version_code = client.get("app_version_code")
        self.app_package_name = client.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, context: dict[str, Any]) -> None:
        client = context.get("client")
        self.client = Client(client) if client else None
        self.custom = context.get("custom")
        self.env = context.get("env")

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """What a handler receives as ``context``.

    Static attributes come from the environment variables, so ``memory_limit_in_mb`` is a string,
    exactly as on Lambda.
    """

    def __init__(
        self,
        invoke_id: str,
        client_context: dict[str, Any] | None,
        cognito_identity: dict[str, Any] | None,
        deadline_ms: int,
        invoked_function_arn: str,
        tenant_id: str | None = None,
    ) -> None:
        self.aws_request_id = invoke_id
        self.log_group_name = environment_variable(b"AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environment_variable(b"AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environment_variable(b"AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = environment_variable(b"AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environment_variable(b"AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = ClientContext(client_context) if client_context else None
        identity = cognito_identity or {}
        self.identity = CognitoIdentity(
            identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId")
        )
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg: str) -> None:
        sys.stdout.write(str(msg))
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity},tenant_id={self.tenant_id}])"
        )
