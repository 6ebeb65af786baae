"""Flare's one exception tree. Every error that reaches a client is one of these.

Each class knows the AWS error name it is sent as (``x-amzn-ErrorType``), its HTTP status, and
whether it is the caller's fault (``Type: User``) or ours (``Type: Service``). ``api/wire.py``
turns any of them into AWS's error shape in one place; nothing else builds error responses.

::

    FlareError                                   (500 ServiceException)
    ├── ClientError                              (4xx, Type: User)
    │   ├── InvalidParameterValue                (400 InvalidParameterValueException)
    │   ├── InvalidRequestContent                (400 InvalidRequestContentException)
    │   │   └── UnreadableRequest                (400 InvalidRequestContentException: HTTP that
    │   │                                          cannot be read: a line or header too long,
    │   │                                          conflicting framing; api/http_errors.py)
    │   ├── ValidationFailed                     (400 ValidationException: the request breaks its
    │   │                                          service model's constraints; specs/constraints.py)
    │   ├── SerializationFailed                  (400 SerializationException: a JSON-protocol body
    │   │                                          with a value of the wrong type)
    │   ├── PolicyLengthExceeded                 (400 PolicyLengthExceededException: policy over 20 KB)
    │   ├── MalformedPolicyDocument              (400 MalformedPolicyDocument: an IAM identity policy
    │   │                                          that IAM would refuse; iam/policy.py)
    │   ├── CodeVerificationFailed               (400 CodeVerificationFailedException: Enforce, unsigned)
    │   ├── AccessDenied                         (403 AccessDeniedException: another account's
    │   │                                          resource, and no resource policy allows it)
    │   ├── AuthenticationFailed                 (403: the request's SigV4 signature is missing or
    │   │   │                                      wrong; auth/. JSON services answer 400, SQS its
    │   │   │                                      Query code in x-amzn-query-error)
    │   │   ├── MissingAuthenticationToken       (403 MissingAuthenticationTokenException: unsigned)
    │   │   ├── IncompleteSignature              (403 IncompleteSignatureException: malformed)
    │   │   ├── InvalidSignature                 (403 InvalidSignatureException: wrong signature,
    │   │   │                                      expired or not yet current, wrong scope)
    │   │   ├── UnrecognizedClient               (403 UnrecognizedClientException: unknown key or token)
    │   │   └── ExpiredToken                     (403 ExpiredTokenException: an environment's
    │   │                                          credentials after its end)
    │   ├── ResourceNotFound                     (404 ResourceNotFoundException)
    │   ├── ProvisionedConcurrencyConfigNotFound (404 ProvisionedConcurrencyConfigNotFoundException)
    │   ├── CodeSigningConfigNotFound            (404 CodeSigningConfigNotFoundException)
    │   ├── NoSuchEntity                         (404 NoSuchEntity: IAM's, a role policy not found)
    │   ├── LimitExceeded                        (409 LimitExceeded: IAM's, a role's policies past
    │   │                                          their aggregate size)
    │   ├── ResourceConflict                     (409 ResourceConflictException)
    │   ├── DurableExecutionAlreadyStarted       (409 DurableExecutionAlreadyStartedException: a
    │   │                                          durable execution's name given again with
    │   │                                          another payload)
    │   ├── PreconditionFailed                   (412 PreconditionFailedException)
    │   ├── RequestTooLarge                      (413 RequestTooLargeException)
    │   ├── UnsupportedMediaType                 (415 UnsupportedMediaTypeException)
    │   ├── TooManyRequests                      (429 TooManyRequestsException, + Reason, Retry-After)
    │   ├── CallbackTimeout                      (400 CallbackTimeoutException: a durable execution's
    │   │                                          callback answered after it timed out)
    │   ├── SnapStartException                   (400 SnapStartException: an after-restore hook failed)
    │   ├── SnapStartNotReady                    (409 SnapStartNotReadyException: snapshot still being made)
    │   ├── SnapStartTimeout                     (408 SnapStartTimeoutException: restore over 10 s)
    │   ├── UnknownOperation                     (404 UnknownOperationException)
    │   └── TemplateRefused                      (400 ValidationError: CloudFormation's; a SAM or
    │                                              CloudFormation template ``flare deploy
    │                                              --template`` cannot deploy; projects/)
    └── ServiceError                             (5xx, Type: Service)
        ├── ServiceException                     (500 ServiceException)
        ├── ResourceNotReady                     (502 ResourceNotReadyException)
        └── InvalidZipFile                       (502 InvalidZipFileException: a cluster node
                                                   fetched a function's code and its bytes do
                                                   not hash to its CodeSha256; cluster/)

    IllegalTransition      an environment was asked for a state change its table forbids
                           (a bug or a misbehaving runtime; never sent to a client as such)
    BuildFailed            a build step (pip / npm installing a function's dependencies)
                           failed; build/. Shown by the CLI or logged by a hot-reload watch,
                           never sent to a client as an API error
    StaleRevision          a shared store (a cluster's Redis) refused a write made against a
                           row another node changed, deleted or created first; the registry
                           answers it as ResourceConflict or PreconditionFailed
    TraceRefused           a trace file or a what-if ``flare trace replay`` cannot use (a usage
                           error of the command line; never sent to a client)
"""

from __future__ import annotations


class FlareError(Exception):
    """Base of every error Flare reports to a client.

    ``aws_name`` is the wire error code, ``status`` the HTTP status. ``extra`` holds modeled
    members that go into the JSON body beside the message (e.g. ``Reason`` for throttles).
    """

    aws_name = "ServiceException"
    status = 500
    error_type = "Service"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def headers(self) -> dict[str, str]:
        """Headers this error adds to the response, beyond the standard ones."""
        return {}


class ClientError(FlareError):
    error_type = "User"
    status = 400


class InvalidParameterValue(ClientError):
    aws_name = "InvalidParameterValueException"


class InvalidRequestContent(ClientError):
    aws_name = "InvalidRequestContentException"


class UnreadableRequest(InvalidRequestContent):
    """A request whose HTTP itself cannot be read (answered before any route runs)."""


class ValidationFailed(ClientError):
    """The request breaks its service model's constraints (pattern, length, range, enum,
    required), found before the operation runs."""

    aws_name = "ValidationException"


class SerializationFailed(ClientError):
    """A JSON-protocol request (SQS, Kinesis, Logs) with a value its model cannot bind."""

    aws_name = "SerializationException"


class PolicyLengthExceeded(ClientError):
    """A resource-based policy would grow past its 20 KB limit."""

    aws_name = "PolicyLengthExceededException"


class MalformedPolicyDocument(ClientError):
    """An IAM policy document (a role's identity policy) that IAM would refuse, with IAM's words
    ("Policy statement must contain resources.")."""

    aws_name = "MalformedPolicyDocument"


class CodeVerificationFailed(ClientError):
    """Code that does not pass the function's code signing config under ``Enforce``."""

    aws_name = "CodeVerificationFailedException"


class AccessDenied(ClientError):
    """A request for another account's resource that no resource-based policy allows."""

    aws_name = "AccessDeniedException"
    status = 403


class AuthenticationFailed(ClientError):
    """A request refused before anything else because its SigV4 authentication is missing or
    fails (``auth/``). Lambda's REST API answers 403; AWS's JSON-protocol services (Kinesis,
    CloudWatch Logs) answer 400 with ``__type`` ``com.amazon.coral.service#<aws_name>``; SQS,
    once a Query-protocol service, adds ``query_code`` (``x-amzn-query-error``) and answers
    ``query_status``."""

    aws_name = "AccessDeniedException"
    status = 403
    json_status = 400
    query_code = "AccessDenied"
    query_status = 403


class MissingAuthenticationToken(AuthenticationFailed):
    """No SigV4 signature at all: no ``Authorization: AWS4-...`` header, no presigned query."""

    aws_name = "MissingAuthenticationTokenException"
    query_code = "MissingAuthenticationToken"

    def __init__(self, message: str = "Missing Authentication Token") -> None:
        super().__init__(message)


class IncompleteSignature(AuthenticationFailed):
    """A signature that is not well formed: a part missing, an unknown algorithm, a credential
    that is not ``key/date/region/service/aws4_request``, a date not in ISO-8601 basic format."""

    aws_name = "IncompleteSignatureException"
    query_code = "IncompleteSignature"
    query_status = 400


class InvalidSignature(AuthenticationFailed):
    """A well-formed signature that does not hold: not the one the secret key gives, too old or
    too far in the future (15 minutes), or scoped to another service or date."""

    aws_name = "InvalidSignatureException"
    query_code = "SignatureDoesNotMatch"


class UnrecognizedClient(AuthenticationFailed):
    """An access key id (or session token) that Flare does not know."""

    aws_name = "UnrecognizedClientException"
    query_code = "InvalidClientTokenId"

    def __init__(self, message: str = "The security token included in the request is invalid.") -> None:
        super().__init__(message)


class ExpiredToken(AuthenticationFailed):
    """Temporary credentials (an execution environment's) used after they ended."""

    aws_name = "ExpiredTokenException"
    query_code = "ExpiredToken"

    def __init__(self, message: str = "The security token included in the request is expired") -> None:
        super().__init__(message)


class ResourceNotFound(ClientError):
    aws_name = "ResourceNotFoundException"
    status = 404


class NoSuchEntity(ClientError):
    """IAM's "not found": a role's policy that does not exist."""

    aws_name = "NoSuchEntity"
    status = 404


class LimitExceeded(ClientError):
    """IAM's limit error: a role's inline policies past their aggregate size."""

    aws_name = "LimitExceeded"
    status = 409


class CodeSigningConfigNotFound(ClientError):
    """PutFunctionCodeSigningConfig (or CreateFunction) names a code signing config that does
    not exist."""

    aws_name = "CodeSigningConfigNotFoundException"
    status = 404


class ProvisionedConcurrencyConfigNotFound(ClientError):
    """GetProvisionedConcurrencyConfig (or Delete) on a qualifier that has none."""

    aws_name = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


class ResourceConflict(ClientError):
    aws_name = "ResourceConflictException"
    status = 409


class DurableExecutionAlreadyStarted(ClientError):
    aws_name = "DurableExecutionAlreadyStartedException"
    status = 409


class PreconditionFailed(ClientError):
    aws_name = "PreconditionFailedException"
    status = 412


class RequestTooLarge(ClientError):
    aws_name = "RequestTooLargeException"
    status = 413


class UnsupportedMediaType(ClientError):
    aws_name = "UnsupportedMediaTypeException"
    status = 415


class UnknownOperation(ClientError):
    aws_name = "UnknownOperationException"
    status = 404


class TooManyRequests(ClientError):
    """A throttle. ``reason`` is one of AWS's ThrottleReason values."""

    aws_name = "TooManyRequestsException"
    status = 429

    def __init__(self, reason: str, retry_after_s: int = 1, message: str = "Rate Exceeded.") -> None:
        super().__init__(message, Reason=reason)
        self.reason = reason
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class CallbackTimeout(ClientError):
    aws_name = "CallbackTimeoutException"


class SnapStartException(ClientError):
    aws_name = "SnapStartException"
    status = 400


class SnapStartNotReady(ClientError):
    aws_name = "SnapStartNotReadyException"
    status = 409


class SnapStartTimeout(ClientError):
    aws_name = "SnapStartTimeoutException"
    status = 408


class ServiceError(FlareError):
    error_type = "Service"
    status = 500


class ServiceException(ServiceError):
    aws_name = "ServiceException"


class ResourceNotReady(ServiceError):
    aws_name = "ResourceNotReadyException"
    status = 502


class InvalidZipFile(ServiceError):
    """A function's code, fetched from the cluster's shared store, is not what its CodeSha256
    says (corrupt or missing): the node refuses to run it."""

    aws_name = "InvalidZipFileException"
    status = 502


class TemplateRefused(ClientError):
    """A SAM / CloudFormation template that ``flare deploy --template`` cannot deploy: unreadable,
    refused by the SAM translator, or using a resource type, property or intrinsic function Flare
    does not offer. Raised on the client side, before any write for what the template says."""

    aws_name = "ValidationError"


class StaleRevision(Exception):
    """A shared store refused a write: the row it was made against moved (another node changed
    or deleted it, or created the version this writer thought new)."""


class IllegalTransition(Exception):
    """An environment was asked to move between two states its transition table forbids."""

    def __init__(self, current: object, wanted: object) -> None:
        super().__init__(f"illegal transition {current} -> {wanted}")
        self.current = current
        self.wanted = wanted


class BuildFailed(Exception):
    """Installing a function's dependencies (``flare.build``) failed: the tool is missing, or
    it exited non-zero (``output`` is the end of what it printed)."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output


class TraceRefused(ValueError):
    """A trace file ``flare trace replay`` cannot read, or a what-if it does not know; the
    message says why (and on which line)."""
