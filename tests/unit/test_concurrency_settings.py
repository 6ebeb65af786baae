"""Reserved-concurrency validation, and the serve flags that set the account's limits."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from flare.cli.serve import serve_command
from flare.control.concurrency import below_minimum_message, check_reservation
from flare.errors import InvalidParameterValue

RESERVATIONS = [
    # (account, minimum, reserved already, function, value, allowed)
    pytest.param(1000, 100, {}, "a", 900, True, id="leaves-exactly-the-minimum"),
    pytest.param(1000, 100, {}, "a", 901, False, id="one-past-the-minimum"),
    pytest.param(1000, 100, {"b": 400}, "a", 500, True, id="others-count"),
    pytest.param(1000, 100, {"b": 400}, "a", 501, False, id="others-count-too-much"),
    pytest.param(1000, 100, {"a": 900}, "a", 900, True, id="replacing-own-reservation"),
    pytest.param(3, 1, {}, "a", 0, True, id="zero-always-fits"),
    pytest.param(3, 3, {}, "a", 1, False, id="no-room-at-all"),
]


@pytest.mark.parametrize(("account", "minimum", "reserved", "function", "value", "allowed"), RESERVATIONS)
def test_reservation_must_leave_the_minimum_unreserved(
    account: int, minimum: int, reserved: dict[str, int], function: str, value: int, allowed: bool
) -> None:
    if allowed:
        check_reservation(account, minimum, reserved, function, value)
    else:
        with pytest.raises(InvalidParameterValue) as caught:
            check_reservation(account, minimum, reserved, function, value)
        assert caught.value.message == below_minimum_message(minimum)


def test_below_minimum_message_is_aws_wording() -> None:
    assert below_minimum_message(100) == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )


def test_serve_refuses_a_minimum_above_the_account_limit() -> None:
    result = CliRunner().invoke(serve_command, ["--account-concurrency", "5", "--min-unreserved", "10"])
    assert result.exit_code == 2
    assert "--min-unreserved" in result.output
