"""The policy of an execution role that has none attached (``flare roles put`` attaches some).

It lets a function use its own account's data plane and nothing of Lambda's control plane::

    logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents
                        on its own log group /aws/lambda/<function> (and its streams)
    sqs:*               on every queue of its account in its region (and sqs:ListQueues)
    kinesis:*           on every stream of its account in its region (and kinesis:ListStreams)
    lambda:InvokeFunction
                        on every function (any version or alias) of its account in its region

Every other action is implicitly denied: ``lambda:ListFunctions``, ``lambda:GetFunction``,
``lambda:UpdateFunctionConfiguration``... on any function, its own included, and any other
account's resources. All pure.
"""

from __future__ import annotations

from typing import Any

from flare.iam import policy


def document(account: str, region: str, function_name: str) -> dict[str, Any]:
    """The default policy of a role used by ``function_name`` in ``account`` and ``region``."""
    group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [group, f"{group}:*"],
            },
            {
                "Sid": "AccountQueues",
                "Effect": "Allow",
                "Action": "sqs:*",
                "Resource": f"arn:aws:sqs:{region}:{account}:*",
            },
            {
                "Sid": "AccountStreams",
                "Effect": "Allow",
                "Action": "kinesis:*",
                "Resource": f"arn:aws:kinesis:{region}:{account}:*",
            },
            {
                "Sid": "Listings",
                "Effect": "Allow",
                "Action": ["sqs:ListQueues", "kinesis:ListStreams"],
                "Resource": "*",
            },
            {
                "Sid": "InvokeAccountFunctions",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{region}:{account}:function:*",
            },
        ],
    }


def compiled(account: str, region: str, function_name: str) -> policy.Policy:
    """``document``, compiled."""
    return policy.compile_policy(document(account, region, function_name))
