"""The front door's fast-path reader: which requests it takes, and what it leaves to aiohttp."""

from __future__ import annotations

import asyncio

import pytest

from flare.api.front_door import FAST_BODY_LIMIT, NotFast, parse_request, response_bytes, start_now


def request(
    path: str = "/2015-03-31/functions/hello/invocations",
    body: bytes = b"{}",
    headers: str = "",
    method: str = "POST",
    version: str = "HTTP/1.1",
) -> bytes:
    head = f"{method} {path} {version}\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    return head.encode() + body


def test_takes_a_plain_invoke_with_its_headers_and_body() -> None:
    buffer = bytearray(request(body=b'{"a": 1}', headers="X-Amz-Log-Type: Tail\r\n"))
    parsed = parse_request(buffer)
    assert parsed is not None
    assert (parsed.name, parsed.qualifier, parsed.body) == ("hello", None, b'{"a": 1}')
    assert parsed.headers["x-amz-log-type"] == "Tail"
    assert parsed.keep_alive
    assert buffer == b""


@pytest.mark.parametrize("value", ["a :b", "a\t:b", "plain"])
def test_a_value_holding_what_an_odd_name_would_show_is_still_taken(value: str) -> None:
    parsed = parse_request(bytearray(request(headers=f"User-Agent: {value}\r\nX-Other:  v \r\n")))
    assert parsed is not None
    assert (parsed.headers["user-agent"], parsed.headers["x-other"]) == (value, "v")


def test_decodes_names_and_the_qualifier() -> None:
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello"
    parsed = parse_request(bytearray(request(f"/2015-03-31/functions/{arn}/invocations?Qualifier=live")))
    assert parsed is not None
    assert parsed.name == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert parsed.qualifier == "live"


def test_waits_for_the_whole_request_and_leaves_the_next_one() -> None:
    whole = request(body=b'{"n": 1}') + request(body=b'{"n": 2}')
    buffer = bytearray(whole[:-12])
    first = parse_request(buffer)
    assert first is not None and first.body == b'{"n": 1}'
    assert parse_request(buffer) is None, "the second body is incomplete"
    buffer += whole[-12:]
    second = parse_request(buffer)
    assert second is not None and second.body == b'{"n": 2}'
    assert parse_request(bytearray(b"POST /2015-03-31/functions/a/invo")) is None


@pytest.mark.parametrize(
    "raw",
    [
        request("/2015-03-31/functions/hello/configuration"),
        request("/2015-03-31/functions/hello/invocations/x"),
        request("/2015-03-31/functions//invocations"),
        request(method="GET"),
        request(version="HTTP/1.0"),
        request(headers="Transfer-Encoding: chunked\r\n"),
        request(headers="Expect: 100-continue\r\n"),
        request(headers="Host: abc.lambda-url.us-east-1.localhost:9000\r\n"),  # a function URL's
        request(headers="Host: ABC.LAMBDA-URL.us-east-1.localhost\r\n"),
        request(headers="Bad Header : x\r\n"),
        request(headers="X-A: 1\r\n folded: continuation\r\n"),
        request(headers="X-A: 1\r\n\tfolded: continuation\r\n"),
        request(headers=": no name\r\n"),
        request(headers="Tab-Before\t: x\r\n"),
        request(headers="No-Colon-Here\r\n"),
        request(headers="Bad Header : x\r\nUser-Agent: a :b\r\n"),
        b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        f"POST /2015-03-31/functions/h/invocations HTTP/1.1\r\nContent-Length: {FAST_BODY_LIMIT + 1}"
        "\r\n\r\n".encode(),
    ],
)
def test_leaves_everything_else_to_aiohttp_without_consuming_it(raw: bytes) -> None:
    buffer = bytearray(raw)
    with pytest.raises(NotFast):
        parse_request(buffer)
    assert buffer == raw


def test_connection_close_is_honoured_in_the_response() -> None:
    parsed = parse_request(bytearray(request(headers="Connection: close\r\n")))
    assert parsed is not None and not parsed.keep_alive
    raw = response_bytes(
        200, {"Content-Type": "application/json"}, b"{}", "Mon, 30 Nov 2026 08:00:00 GMT", False
    )
    head, body = raw.split(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert b"Content-Length: 2" in head and b"Connection: close" in head and body == b"{}"
    assert b"Content-Length" not in response_bytes(204, {}, b"", "d", True)


def test_start_now_runs_up_to_the_first_suspension_before_returning() -> None:
    async def scenario() -> None:
        steps: list[str] = []
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def work() -> None:
            steps.append("before")
            steps.append(await gate)

        async def at_once() -> None:
            steps.append("all at once")

        assert start_now(asyncio.get_running_loop(), at_once()) is None, (
            "a coroutine that never suspends needs no task"
        )
        task = start_now(asyncio.get_running_loop(), work())
        assert steps == ["all at once", "before"], "the first part ran inside the call"
        assert task is not None and not task.done()
        gate.set_result("after")
        await task
        assert steps == ["all at once", "before", "after"]

    asyncio.run(scenario())


def test_start_now_passes_errors_and_cancellation_to_the_coroutine() -> None:
    async def scenario() -> None:
        seen: list[str] = []

        async def fails() -> None:
            await asyncio.sleep(0)
            raise ValueError("boom")

        async def waits() -> None:
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
            finally:
                seen.append("cleaned up")

        failing = start_now(asyncio.get_running_loop(), fails())
        assert failing is not None
        with pytest.raises(ValueError, match="boom"):
            await failing
        waiting = start_now(asyncio.get_running_loop(), waits())
        assert waiting is not None
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert waiting.cancelled()
        assert seen == ["cancelled", "cleaned up"]

    asyncio.run(scenario())
