"""The errors of the embedded queue, stream and logs services: a branch of ``flare.errors``' tree.

Both services speak AWS's JSON protocols, where every client error is HTTP 400 and the error's
name travels in the body's ``__type``. SQS was a Query-protocol service first, so each of its
errors also has a *query code* (``AWS.SimpleQueueService.NonExistentQueue``), sent in the
``x-amzn-query-error`` header; botocore reports that code as ``Error.Code`` and raises the
modeled exception named by ``__type`` (``client.exceptions.QueueDoesNotExist``).

::

    flare.errors.ClientError
    ├── QueueError                     (400; __type = the SQS shape name, + x-amzn-query-error)
    │   ├── QueueDoesNotExist          AWS.SimpleQueueService.NonExistentQueue
    │   ├── QueueNameExists            QueueAlreadyExists
    │   ├── InvalidParameter           InvalidParameterValue
    │   ├── MissingParameter           MissingParameter
    │   ├── InvalidAttributeName       InvalidAttributeName
    │   ├── InvalidAttributeValue      InvalidAttributeValue
    │   ├── InvalidMessageContents     InvalidMessageContents
    │   ├── ReceiptHandleIsInvalid     ReceiptHandleIsInvalid
    │   ├── MessageNotInflight         AWS.SimpleQueueService.MessageNotInflight
    │   ├── EmptyBatchRequest          AWS.SimpleQueueService.EmptyBatchRequest
    │   ├── TooManyEntriesInBatch      AWS.SimpleQueueService.TooManyEntriesInBatchRequest
    │   ├── BatchEntryIdsNotDistinct   AWS.SimpleQueueService.BatchEntryIdsNotDistinct
    │   ├── InvalidBatchEntryId        AWS.SimpleQueueService.InvalidBatchEntryId
    │   ├── BatchRequestTooLong        AWS.SimpleQueueService.BatchRequestTooLong
    │   └── UnsupportedOperation       AWS.SimpleQueueService.UnsupportedOperation
    └── StreamError                    (400; __type = the Kinesis shape name)
        ├── StreamNotFound             ResourceNotFoundException
        ├── StreamInUse                ResourceInUseException
        ├── InvalidArgument            InvalidArgumentException
        ├── ExpiredIterator            ExpiredIteratorException
        └── StreamLimitExceeded        LimitExceededException
    └── LogsError                      (400; __type = the CloudWatch Logs shape name)
        ├── LogResourceNotFound        ResourceNotFoundException
        ├── LogResourceExists          ResourceAlreadyExistsException
        ├── LogInvalidParameter        InvalidParameterException
        └── LogLimitExceeded           LimitExceededException
"""

from __future__ import annotations

from flare.errors import ClientError


class QueueError(ClientError):
    """An SQS error. ``aws_name`` is the modeled shape name, ``query_code`` its Query-era code."""

    aws_name = "InvalidParameterValue"
    query_code = "InvalidParameterValue"
    status = 400

    def headers(self) -> dict[str, str]:
        return {"x-amzn-query-error": f"{self.query_code};Sender"}


class QueueDoesNotExist(QueueError):
    aws_name = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(QueueError):
    aws_name = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class InvalidParameter(QueueError):
    aws_name = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"


class MissingParameter(QueueError):
    aws_name = "MissingParameter"
    query_code = "MissingParameter"


class InvalidAttributeName(QueueError):
    aws_name = "InvalidAttributeName"
    query_code = "InvalidAttributeName"


class InvalidAttributeValue(QueueError):
    aws_name = "InvalidAttributeValue"
    query_code = "InvalidAttributeValue"


class InvalidMessageContents(QueueError):
    aws_name = "InvalidMessageContents"
    query_code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(QueueError):
    aws_name = "ReceiptHandleIsInvalid"
    query_code = "ReceiptHandleIsInvalid"


class MessageNotInflight(QueueError):
    aws_name = "MessageNotInflight"
    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class EmptyBatchRequest(QueueError):
    aws_name = "EmptyBatchRequest"
    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatch(QueueError):
    aws_name = "TooManyEntriesInBatchRequest"
    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(QueueError):
    aws_name = "BatchEntryIdsNotDistinct"
    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(QueueError):
    aws_name = "InvalidBatchEntryId"
    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchRequestTooLong(QueueError):
    aws_name = "BatchRequestTooLong"
    query_code = "AWS.SimpleQueueService.BatchRequestTooLong"


class UnsupportedOperation(QueueError):
    aws_name = "UnsupportedOperation"
    query_code = "AWS.SimpleQueueService.UnsupportedOperation"


class StreamError(ClientError):
    """A Kinesis error; Kinesis sends every client error as 400 with the shape name."""

    status = 400


class StreamNotFound(StreamError):
    aws_name = "ResourceNotFoundException"


class StreamInUse(StreamError):
    aws_name = "ResourceInUseException"


class InvalidArgument(StreamError):
    aws_name = "InvalidArgumentException"


class ExpiredIterator(StreamError):
    aws_name = "ExpiredIteratorException"


class StreamLimitExceeded(StreamError):
    aws_name = "LimitExceededException"


class LogsError(ClientError):
    """A CloudWatch Logs error; every client error is 400 with the shape name."""

    status = 400


class LogResourceNotFound(LogsError):
    aws_name = "ResourceNotFoundException"


class LogResourceExists(LogsError):
    aws_name = "ResourceAlreadyExistsException"


class LogInvalidParameter(LogsError):
    aws_name = "InvalidParameterException"


class LogLimitExceeded(LogsError):
    aws_name = "LimitExceededException"
