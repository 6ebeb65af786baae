"""The ``logging`` set-up of Lambda's Python runtime, for Flare's runtime (stdlib, Python 3.9).

As AWS's runtime does at start-up: the root logger gets a handler writing to stdout with
``[LEVEL]\\t<UTC time>.<ms>Z\\t<request id>\\t<message>`` (``Text``) or one JSON object per record
(``AWS_LAMBDA_LOG_FORMAT=JSON``): ``timestamp``, ``level``, ``message``, ``logger``,
``requestId``, with ``errorType``/``errorMessage``/``stackTrace``/``location`` when the record
carries an exception and the record's ``extra`` fields; ``AWS_LAMBDA_LOG_LEVEL`` (Lambda's
``ApplicationLogLevel``; ``TRACE`` counts as ``DEBUG``) sets the root logger's level. An
unhandled error is logged as one JSON object in JSON mode.
"""

import json
import logging
import sys
import time
import traceback
from typing import Any, Dict, List

request_id = ""  # the invocation in flight; bootstrap sets it for each one
tenant_id = None  # type: Any
json_format = False

_TEXT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
_RESERVED = frozenset(
    [
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "taskName",
        "aws_request_id",
        "tenant_id",
        "message",
        "asctime",
    ]
)


class _RequestFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = request_id
        record.tenant_id = tenant_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, in the shape of Lambda's Python runtime."""

    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        result = {
            "timestamp": "%s.%03dZ" % (stamp, int(record.msecs)),
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
        }  # type: Dict[str, Any]
        if record.exc_info and record.exc_info[0] is not None:
            result["stackTrace"] = traceback.format_tb(record.exc_info[2])
            result["errorType"] = record.exc_info[0].__name__
            result["errorMessage"] = str(record.exc_info[1])
            result["location"] = "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
        result["requestId"] = getattr(record, "aws_request_id", None) or None
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in result:
                result[key] = value
        return json.dumps({k: v for k, v in result.items() if v is not None}, ensure_ascii=False, default=str)


def setup(environ: Dict[str, str]) -> None:
    """Install the root handler as Lambda's runtime does, from the environment variables."""
    global json_format
    json_format = (environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
    handler = logging.StreamHandler(sys.stdout)
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(_TEXT, "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(_RequestFilter())
    root = logging.getLogger()
    level = {"TRACE": "DEBUG"}.get(environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper(), "")
    level = level or environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


def error_lines(body: Dict[str, Any]) -> List[str]:
    """How an unhandled error is logged: ``[ERROR] Type: message`` and the trace, or in JSON
    mode one object with ``timestamp`` (to the second) and ``level`` before the error body."""
    if json_format:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        return [json.dumps(dict({"timestamp": stamp, "level": "ERROR"}, **body), ensure_ascii=False)]
    lines = ["[ERROR] %s: %s" % (body["errorType"], body["errorMessage"])]
    if body.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in body["stackTrace"])
    return lines


def uninstall() -> None:
    """Remove the handlers ``setup`` added (for tests)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if any(isinstance(f, _RequestFilter) for f in handler.filters):
            root.removeHandler(handler)
