"""What every client command shares: where Flare is, a boto3 client for it, clean failures.

A client command never shows a traceback for a failure the user can act on. Anything that goes
wrong talking to Flare becomes :class:`CommandFailed`, which click prints as one line on stderr
(``error: ResourceNotFoundException: Function not found: ...``) and exits with status 1.

boto3 and botocore are imported inside the functions that need them, so ``flare --help`` and
``flare serve`` never pay for them.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from flare.auth.profile import PROFILE as FLARE_PROFILE

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient

DEFAULT_ENDPOINT_URL = "http://127.0.0.1:9000"
ENDPOINT_ENV_VAR = "FLARE_ENDPOINT_URL"
DEFAULT_CLIENT_REGION = "us-east-1"
DUMMY_CREDENTIAL = "flare"
READ_TIMEOUT_S = 910  # longer than Lambda's 900 s maximum function timeout

F = TypeVar("F", bound=Callable[..., Any])


class CommandFailed(click.ClickException):
    """A client command failed for a reason worth one line: printed as ``error: <message>``, exit 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


def endpoint_option(command: F) -> F:
    """Add ``--endpoint-url URL`` to a command; the value (or None) reaches it as ``endpoint_url``."""
    return click.option(
        "--endpoint-url",
        "endpoint_url",
        default=None,
        metavar="URL",
        help=f"Flare's URL (default: ${ENDPOINT_ENV_VAR}, else {DEFAULT_ENDPOINT_URL}).",
    )(command)


def resolve_endpoint(flag: str | None, environ: Mapping[str, str]) -> str:
    """The endpoint to talk to: ``flag`` if given, else ``$FLARE_ENDPOINT_URL``, else the default.

    Empty values count as absent. A trailing ``/`` is dropped so paths can be appended.
    """
    for candidate in (flag, environ.get(ENDPOINT_ENV_VAR)):
        if candidate:
            return candidate.rstrip("/")
    return DEFAULT_ENDPOINT_URL


def resolve_region(environ: Mapping[str, str]) -> str:
    """The region to sign requests for: ``$AWS_REGION``, else ``$AWS_DEFAULT_REGION``, else us-east-1."""
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_CLIENT_REGION


def botocore_session(environ: Mapping[str, str]) -> Any:
    """A botocore session with the credentials a client command signs with.

    Credentials the user named (``$AWS_PROFILE``, ``$AWS_ACCESS_KEY_ID``) win; else the ``flare``
    profile, which ``flare serve --auth sigv4`` writes for its admin key; else botocore's usual
    chain, except instance metadata, which is never consulted (it stalls for seconds off EC2);
    when none are found the session signs with the dummy pair ``flare``/``flare`` (enough for
    ``--auth open``)."""
    import botocore.session

    core = botocore.session.get_session()
    named = environ.get("AWS_PROFILE") or environ.get("AWS_ACCESS_KEY_ID")
    if not named and FLARE_PROFILE in core.available_profiles:
        core.set_config_variable("profile", FLARE_PROFILE)  # before the providers are built
    core.get_component("credential_provider").remove("iam-role")
    if core.get_credentials() is None:
        core.set_credentials(DUMMY_CREDENTIAL, DUMMY_CREDENTIAL)
    core.set_config_variable("region", resolve_region(environ))
    return core


def lambda_client(endpoint_url: str, environ: Mapping[str, str] | None = None) -> LambdaClient:
    """A boto3 Lambda client pointed at Flare, signing with ``botocore_session``'s credentials.
    Requests are tried once and may take up to 910 s to answer, so a long synchronous invoke is
    never retried or cut short."""
    import boto3.session
    from botocore.config import Config

    core = botocore_session(os.environ if environ is None else environ)
    session = boto3.session.Session(botocore_session=core)
    return session.client(
        "lambda",
        endpoint_url=endpoint_url,
        config=Config(retries={"max_attempts": 1}, read_timeout=READ_TIMEOUT_S),
    )


def signed(
    request: urllib.request.Request, environ: Mapping[str, str] | None = None
) -> urllib.request.Request:
    """``request`` (to one of Flare's own routes) with a SigV4 signature for the ``lambda``
    service, from ``botocore_session``'s credentials, as every Flare route requires."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    env = os.environ if environ is None else environ
    core = botocore_session(env)
    body = request.data if isinstance(request.data, bytes) else None
    aws = AWSRequest(request.get_method(), request.full_url, data=body, headers=dict(request.header_items()))
    SigV4Auth(core.get_credentials(), "lambda", resolve_region(env)).add_auth(aws)
    for name, value in aws.headers.items():
        request.add_header(name, value)
    return request


def call_flare(endpoint_url: str, request: urllib.request.Request, timeout: float) -> bytes:
    """``request`` to one of the Flare at ``endpoint_url``'s own routes, signed: the answer's
    body. Raises :class:`CommandFailed` with a one-line reason (AWS error, unreachable,
    timeout) on any failure."""
    try:
        with urllib.request.urlopen(signed(request), timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise CommandFailed(
            error_message(exc.code, exc.headers.get("x-amzn-ErrorType"), exc.read())
        ) from None
    except urllib.error.URLError:
        raise unreachable(endpoint_url) from None
    except TimeoutError:
        raise CommandFailed(f"Flare at {endpoint_url} did not answer within {timeout:g} s") from None


def error_message(status: int, error_type: str | None, body: bytes) -> str:
    """One line for an error response: ``<ErrorType>: <Message>`` when AWS-shaped, else the status."""
    message = _aws_message(body)
    kind = error_type.split(":", 1)[0] if error_type else None
    if kind and message:
        return f"{kind}: {message}"
    return message or kind or f"HTTP {status}"


def _aws_message(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    message = document.get("Message") or document.get("message")
    return str(message) if message else None


def unreachable(endpoint_url: str) -> CommandFailed:
    """The failure for "nothing answered at ``endpoint_url``"."""
    return CommandFailed(f"cannot reach Flare at {endpoint_url} — is `flare serve` running?")


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (e.g. ``ResourceConflictException``), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


@contextmanager
def reported_errors(endpoint_url: str) -> Iterator[None]:
    """Turn botocore failures raised inside the block into :class:`CommandFailed`.

    ``ClientError`` becomes ``<Code>: <Message>``; a refused or failed connection becomes the
    "cannot reach Flare" message; a read timeout and any other botocore error become their own
    text. Other exceptions pass through untouched.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    try:
        yield
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        raise CommandFailed(f"{error_code(exc) or 'ClientError'}: {message}") from None
    except (EndpointConnectionError, ConnectTimeoutError):
        raise unreachable(endpoint_url) from None
    except ReadTimeoutError:
        raise CommandFailed(f"Flare at {endpoint_url} did not answer within {READ_TIMEOUT_S} s") from None
    except BotoCoreError as exc:
        raise CommandFailed(str(exc)) from None


def service_client(service: str, endpoint_url: str, environ: Mapping[str, str] | None = None) -> Any:
    """A boto3 client of another service Flare serves (``sqs``, ``kinesis``) pointed at it,
    signing and retrying as ``lambda_client`` does."""
    import boto3.session
    from botocore.config import Config

    core = botocore_session(os.environ if environ is None else environ)
    session: Any = boto3.session.Session(botocore_session=core)
    return session.client(service, endpoint_url=endpoint_url, config=Config(retries={"max_attempts": 1}))
