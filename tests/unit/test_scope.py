"""The account an access key acts in; and reaching a function of another account or region by ARN
(the scope of a whole request: ``test_authenticator.py``)."""

from __future__ import annotations

import pytest

from flare.control import cross_account
from flare.errors import AccessDenied, ResourceNotFound
from flare.scope import Scope, account_of

DEFAULT = Scope("000000000000", "us-east-1")


@pytest.mark.parametrize(
    ("key", "account"),
    [
        ("111122223333", "111122223333"),
        ("test", "000000000000"),
        ("AKIAIOSFODNN7EXAMPLE", "000000000000"),
        ("11112222333", "000000000000"),  # 11 digits
        ("1111222233334", "000000000000"),  # 13 digits
        ("११११२२२२३३३३", "000000000000"),  # digits, but not ASCII ones
    ],
)
def test_a_12_digit_access_key_is_its_account_and_any_other_the_default(key: str, account: str) -> None:
    assert account_of(key, "000000000000") == account


def test_scope_keys_round_trip() -> None:
    scope = Scope("111122223333", "eu-west-1")
    assert scope.key == "111122223333:eu-west-1" and Scope.from_key(scope.key) == scope


CALLER = Scope("222233334444", "us-east-1")


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("orders", CALLER),
        ("orders:prod", CALLER),
        ("arn:aws:lambda:us-east-1:222233334444:function:orders", CALLER),
        ("arn:aws:lambda:us-east-1:111122223333:function:orders:7", Scope("111122223333", "us-east-1")),
        ("111122223333:function:orders", Scope("111122223333", "us-east-1")),
        ("222233334444:function:orders", CALLER),
    ],
)
def test_the_owner_of_a_function_name(name: str, owner: Scope) -> None:
    assert cross_account.owner_of(CALLER, name) == owner


@pytest.mark.parametrize("account", ["222233334444", "111122223333"])
def test_an_arn_of_another_region_is_not_reachable(account: str) -> None:
    with pytest.raises(ResourceNotFound) as raised:
        cross_account.owner_of(CALLER, f"arn:aws:lambda:eu-west-1:{account}:function:orders")
    assert raised.value.message == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"


ARN = "arn:aws:lambda:us-east-1:111122223333:function:orders"


def statement(
    principal: object, action: str = "lambda:InvokeFunction", effect: str = "Allow"
) -> dict[str, object]:
    return {"Sid": "s", "Effect": effect, "Principal": principal, "Action": action, "Resource": ARN}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([], False),
        ([statement({"AWS": "222233334444"})], True),
        ([statement({"AWS": "arn:aws:iam::222233334444:root"})], True),
        ([statement("*")], True),
        ([statement({"AWS": "999988887777"})], False),
        ([statement({"AWS": "222233334444"}, "lambda:GetFunction")], False),
        ([statement({"AWS": "222233334444"}, "lambda:*")], True),
        ([statement({"AWS": "222233334444"}), statement("*", effect="Deny")], False),
        ([statement({"Service": "s3.amazonaws.com"})], False),
    ],
)
def test_another_accounts_function_needs_its_policy(
    statements: list[dict[str, object]], allowed: bool
) -> None:
    if allowed:
        cross_account.check_allowed(CALLER, "lambda:InvokeFunction", ARN, statements)
        return
    with pytest.raises(AccessDenied) as raised:
        cross_account.check_allowed(CALLER, "lambda:InvokeFunction", ARN, statements)
    assert raised.value.status == 403
    assert raised.value.message == (
        f"User: arn:aws:iam::222233334444:root is not authorized to perform: lambda:InvokeFunction on "
        f"resource: {ARN} because no resource-based policy allows the lambda:InvokeFunction action"
    )


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("Invoke", "lambda:InvokeFunction"),
        ("InvokeWithResponseStream", "lambda:InvokeFunction"),
        ("GetFunction", "lambda:GetFunction"),
    ],
)
def test_operations_are_authorized_as_their_iam_action(operation: str, action: str) -> None:
    assert cross_account.action_of(operation) == action


@pytest.mark.parametrize(
    ("arn", "error", "message"),
    [
        (f"arn:aws:lambda:us-east-1:{CALLER.account}:function:orders", None, None),
        (
            "arn:aws:lambda:eu-west-1:222233334444:function:orders",
            ResourceNotFound,
            "Functions from 'eu-west-1'",
        ),
        (
            "arn:aws:lambda:eu-west-1:222233334444:code-signing-config:csc-1",
            ResourceNotFound,
            "does not exist",
        ),
        (
            "arn:aws:lambda:us-east-1:111122223333:function:orders",
            AccessDenied,
            "lambda:TagResource on resource",
        ),
        ("arn:aws:sqs:us-east-1:111122223333:queue", None, None),  # not Lambda's: the operation's checks
        ("not-an-arn", None, None),
    ],
)
def test_other_resources_named_by_arn_must_be_the_callers(
    arn: str, error: type[Exception] | None, message: str | None
) -> None:
    if error is None:
        cross_account.check_own(CALLER, "TagResource", arn)
        return
    with pytest.raises(error) as raised:
        cross_account.check_own(CALLER, "TagResource", arn)
    assert message is not None and message in str(raised.value)
