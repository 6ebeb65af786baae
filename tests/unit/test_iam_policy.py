"""IAM identity policies: checking (IAM's MalformedPolicyDocument words), compiling, and IAM's
evaluation rules, from tables (many rows are AWS's documented examples)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flare.errors import MalformedPolicyDocument
from flare.iam import policy
from flare.iam.policy import Decision

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-2:{ACCOUNT}:table/Books"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-function"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _decide(
    documents: list[dict[str, Any]], action: str, resource: str, context: policy.Context | None = None
) -> Decision:
    compiled = [policy.compile_policy(policy.parse(json.dumps(d))) for d in documents]
    return policy.evaluate(compiled, action, resource, policy.lowered(context or {}))


MALFORMED = [
    ("not json", "{", policy.SYNTAX),
    ("a list", "[]", policy.SYNTAX),
    ("no statement", {"Version": "2012-10-17"}, policy.SYNTAX),
    ("empty statement list", _doc(), policy.SYNTAX),
    (
        "unknown top-level key",
        {**_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}), "Foo": 1},
        policy.SYNTAX,
    ),
    (
        "bad version",
        {"Version": "2020-01-01", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
        policy.SYNTAX,
    ),
    (
        "a principal",
        _doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}),
        policy.NO_PRINCIPAL,
    ),
    (
        "a not-principal",
        _doc({"Effect": "Deny", "NotPrincipal": {"AWS": "x"}, "Action": "s3:*", "Resource": "*"}),
        policy.NO_PRINCIPAL,
    ),
    ("no effect", _doc({"Action": "s3:*", "Resource": "*"}), policy.NEEDS_EFFECT),
    ("effect misspelt", _doc({"Effect": "allow", "Action": "s3:*", "Resource": "*"}), policy.SYNTAX),
    ("no action", _doc({"Effect": "Allow", "Resource": "*"}), policy.NEEDS_ACTIONS),
    ("no resource", _doc({"Effect": "Allow", "Action": "s3:*"}), policy.NEEDS_RESOURCES),
    (
        "action and not-action",
        _doc({"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}),
        policy.SYNTAX,
    ),
    ("resource not a string", _doc({"Effect": "Allow", "Action": "s3:*", "Resource": 3}), policy.SYNTAX),
    ("empty action list", _doc({"Effect": "Allow", "Action": [], "Resource": "*"}), policy.SYNTAX),
    (
        "action without vendor",
        _doc({"Effect": "Allow", "Action": "GetFunction", "Resource": "*"}),
        policy.NEEDS_VENDOR,
    ),
    (
        "condition key without vendor",
        _doc(
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"SourceArn": "x"}},
            }
        ),
        policy.NEEDS_VENDOR,
    ),
    (
        "condition not an object",
        _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": ["x"]}),
        policy.SYNTAX,
    ),
    (
        "duplicate sids",
        _doc(
            {"Sid": "a", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "a", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        ),
        policy.UNIQUE_SIDS,
    ),
]


@pytest.mark.parametrize(("case", "document", "message"), MALFORMED, ids=[row[0] for row in MALFORMED])
def test_malformed_documents_get_iams_words(case: str, document: object, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(MalformedPolicyDocument) as raised:
        policy.parse(text)
    assert raised.value.message == message
    assert raised.value.aws_name == "MalformedPolicyDocument"


def test_a_single_statement_object_and_no_version_are_accepted() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FUNCTION}}
    compiled = policy.compile_policy(policy.parse(json.dumps(document)))
    assert len(compiled.statements) == 1
    assert policy.evaluate([compiled], "lambda:InvokeFunction", FUNCTION, {}) is Decision.ALLOW


# AWS's documented examples ("Example IAM identity-based policies"), and IAM's rules around them
DYNAMO_TABLE = _doc(
    {
        "Sid": "ListAndDescribe",
        "Effect": "Allow",
        "Action": [
            "dynamodb:List*",
            "dynamodb:DescribeReservedCapacity*",
            "dynamodb:DescribeLimits",
            "dynamodb:DescribeTimeToLive",
        ],
        "Resource": "*",
    },
    {
        "Sid": "SpecificTable",
        "Effect": "Allow",
        "Action": ["dynamodb:BatchGet*", "dynamodb:Get*", "dynamodb:Query", "dynamodb:Scan", "dynamodb:Put*"],
        "Resource": TABLE,
    },
)
EVERYTHING_BUT_IAM = _doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
DENY_OUTSIDE_BUCKET = _doc(
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    {
        "Effect": "Deny",
        "Action": "s3:*",
        "NotResource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
    },
)
HOME_PREFIX = _doc(
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
        "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}},
    }
)
DENY_INSECURE = _doc(
    {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
    {
        "Effect": "Deny",
        "Action": "sqs:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    },
)
SOURCE_ARN = _doc(
    {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:*:*:function:my-*",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sqs:us-east-1:*:orders-?"}},
    }
)
EXACT_FUNCTION = _doc(
    {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [FUNCTION, FUNCTION.replace("my-", "other-") + ":*"],
    }
)
TAG_KEYS = _doc(
    {
        "Effect": "Allow",
        "Action": "lambda:TagResource",
        "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
    }
)
TWO_KEYS = _doc(
    {
        "Effect": "Allow",
        "Action": "lambda:CreateEventSourceMapping",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
            "ArnLike": {"lambda:FunctionArn": "arn:aws:lambda:*:*:function:worker*"},
        },
    }
)
NOT_EQUALS_IF_EXISTS = _doc(
    {
        "Effect": "Deny",
        "Action": "lambda:*",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"lambda:Principal": "s3.amazonaws.com"}},
    },
    {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
)
UNKNOWN_OPERATOR = _doc(
    {
        "Effect": "Allow",
        "Action": "sqs:*",
        "Resource": "*",
        "Condition": {"IpAddressLike": {"aws:SourceIp": "10.0.0.0/8"}},
    },
    {
        "Effect": "Deny",
        "Action": "kinesis:*",
        "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    },
    {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
)
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-1"

EVALUATIONS: list[tuple[str, list[dict[str, Any]], str, str, policy.Context, Decision]] = [
    ("list action by wildcard", [DYNAMO_TABLE], "dynamodb:ListTables", "*", {}, Decision.ALLOW),
    ("action case-insensitive", [DYNAMO_TABLE], "DynamoDB:getitem", TABLE, {}, Decision.ALLOW),
    (
        "resource case-sensitive",
        [DYNAMO_TABLE],
        "dynamodb:GetItem",
        TABLE.replace("Books", "books"),
        {},
        Decision.IMPLICIT_DENY,
    ),
    ("action not listed", [DYNAMO_TABLE], "dynamodb:DeleteItem", TABLE, {}, Decision.IMPLICIT_DENY),
    ("other table", [DYNAMO_TABLE], "dynamodb:GetItem", TABLE + "2", {}, Decision.IMPLICIT_DENY),
    ("NotAction allows the rest", [EVERYTHING_BUT_IAM], "lambda:ListFunctions", "*", {}, Decision.ALLOW),
    ("NotAction leaves iam out", [EVERYTHING_BUT_IAM], "iam:CreateUser", "*", {}, Decision.IMPLICIT_DENY),
    (
        "NotResource deny spares the bucket",
        [DENY_OUTSIDE_BUCKET],
        "s3:GetObject",
        "arn:aws:s3:::amzn-s3-demo-bucket/a",
        {},
        Decision.ALLOW,
    ),
    (
        "NotResource deny hits other buckets",
        [DENY_OUTSIDE_BUCKET],
        "s3:GetObject",
        "arn:aws:s3:::other/a",
        {},
        Decision.DENY,
    ),
    (
        "StringLike on an empty prefix",
        [HOME_PREFIX],
        "s3:ListBucket",
        "arn:aws:s3:::amzn-s3-demo-bucket",
        {"s3:prefix": ""},
        Decision.ALLOW,
    ),
    (
        "StringLike a listed prefix",
        [HOME_PREFIX],
        "s3:ListBucket",
        "arn:aws:s3:::amzn-s3-demo-bucket",
        {"s3:prefix": "home/"},
        Decision.ALLOW,
    ),
    (
        "StringLike misses",
        [HOME_PREFIX],
        "s3:ListBucket",
        "arn:aws:s3:::amzn-s3-demo-bucket",
        {"s3:prefix": "private/"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "StringLike key missing",
        [HOME_PREFIX],
        "s3:ListBucket",
        "arn:aws:s3:::amzn-s3-demo-bucket",
        {},
        Decision.IMPLICIT_DENY,
    ),
    (
        "Bool deny on plain HTTP",
        [DENY_INSECURE],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SecureTransport": False},
        Decision.DENY,
    ),
    (
        "Bool deny spares HTTPS",
        [DENY_INSECURE],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SecureTransport": True},
        Decision.ALLOW,
    ),
    (
        "condition key case-insensitive",
        [DENY_INSECURE],
        "sqs:SendMessage",
        QUEUE,
        {"AWS:securetransport": "false"},
        Decision.DENY,
    ),
    (
        "ArnLike with ? matches",
        [SOURCE_ARN],
        "lambda:InvokeFunction",
        FUNCTION,
        {"aws:SourceArn": QUEUE},
        Decision.ALLOW,
    ),
    (
        "ArnLike ? is one character",
        [SOURCE_ARN],
        "lambda:InvokeFunction",
        FUNCTION,
        {"aws:SourceArn": QUEUE + "2"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "unqualified ARN misses a qualified one",
        [EXACT_FUNCTION],
        "lambda:InvokeFunction",
        FUNCTION + ":1",
        {},
        Decision.IMPLICIT_DENY,
    ),
    (
        "qualified ARN by :*",
        [EXACT_FUNCTION],
        "lambda:InvokeFunction",
        FUNCTION.replace("my-", "other-") + ":prod",
        {},
        Decision.ALLOW,
    ),
    (
        "ForAllValues: every key listed",
        [TAG_KEYS],
        "lambda:TagResource",
        FUNCTION,
        {"aws:TagKeys": ["team"]},
        Decision.ALLOW,
    ),
    (
        "ForAllValues: one key not listed",
        [TAG_KEYS],
        "lambda:TagResource",
        FUNCTION,
        {"aws:TagKeys": ["team", "cost"]},
        Decision.IMPLICIT_DENY,
    ),
    ("ForAllValues: no key at all holds", [TAG_KEYS], "lambda:TagResource", FUNCTION, {}, Decision.ALLOW),
    (
        "two operators AND, values OR",
        [TWO_KEYS],
        "lambda:CreateEventSourceMapping",
        "*",
        {
            "aws:RequestedRegion": "eu-west-1",
            "lambda:FunctionArn": FUNCTION.replace("my-function", "worker-1"),
        },
        Decision.ALLOW,
    ),
    (
        "two operators: one fails",
        [TWO_KEYS],
        "lambda:CreateEventSourceMapping",
        "*",
        {"aws:RequestedRegion": "eu-west-1", "lambda:FunctionArn": FUNCTION},
        Decision.IMPLICIT_DENY,
    ),
    (
        "NotEqualsIfExists: key missing holds",
        [NOT_EQUALS_IF_EXISTS],
        "lambda:GetFunction",
        FUNCTION,
        {},
        Decision.DENY,
    ),
    (
        "NotEqualsIfExists: equal value spares",
        [NOT_EQUALS_IF_EXISTS],
        "lambda:AddPermission",
        FUNCTION,
        {"lambda:Principal": "s3.amazonaws.com"},
        Decision.ALLOW,
    ),
    (
        "unknown operator: the Allow allows nothing",
        [UNKNOWN_OPERATOR],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SourceIp": "10.0.0.1"},
        Decision.IMPLICIT_DENY,
    ),
    (
        "unknown operator: the Deny denies nothing",
        [UNKNOWN_OPERATOR],
        "kinesis:PutRecord",
        "*",
        {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        Decision.ALLOW,
    ),
    (
        "deny in one policy beats allow in another",
        [EVERYTHING_BUT_IAM, DENY_INSECURE],
        "sqs:SendMessage",
        QUEUE,
        {"aws:SecureTransport": "false"},
        Decision.DENY,
    ),
    ("allow in any policy", [DYNAMO_TABLE, EVERYTHING_BUT_IAM], "sqs:SendMessage", QUEUE, {}, Decision.ALLOW),
    ("no policy: implicit deny", [], "sqs:SendMessage", QUEUE, {}, Decision.IMPLICIT_DENY),
]


@pytest.mark.parametrize(
    ("case", "documents", "action", "resource", "context", "expected"),
    EVALUATIONS,
    ids=[row[0] for row in EVALUATIONS],
)
def test_evaluation_follows_iams_rules(
    case: str,
    documents: list[dict[str, Any]],
    action: str,
    resource: str,
    context: policy.Context,
    expected: Decision,
) -> None:
    assert _decide(documents, action, resource, context) is expected


def test_policy_variables_match_literally() -> None:
    resource = "arn:aws:s3:::amzn-s3-demo-bucket"
    literal = {"s3:prefix": "home/${aws:username}/x"}
    assert _decide([HOME_PREFIX], "s3:ListBucket", resource, literal) is Decision.ALLOW
    assert (
        _decide([HOME_PREFIX], "s3:ListBucket", resource, {"s3:prefix": "home/alice/x"})
        is Decision.IMPLICIT_DENY
    )


def test_wildcards_do_not_read_regex_characters() -> None:
    document = _doc({"Effect": "Allow", "Action": "sqs:Get*", "Resource": "arn:aws:sqs:us-east-1:1:q.+"})
    assert _decide([document], "sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:1:q.+") is Decision.ALLOW
    assert _decide([document], "sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:1:qq") is Decision.IMPLICIT_DENY
    assert _decide([document], "sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:1:q..") is Decision.IMPLICIT_DENY
