"""The console's door: a one-time login URL from ``flare console``, a session cookie, and
nothing without it; what the signed-in page and its live parts answer."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.conftest import FLARE, FlareServer, create_function, python_function
from tests.functional.live_stream import LiveStream
from tests.functional.test_function_urls import ECHO, host_of, request, url_for
from tests.signing import signed_urlopen

HELLO = python_function("def handler(event, context):\n    print('hello from the log')\n    return 1\n")


def login_url(flare: FlareServer) -> str:
    """What ``flare console`` prints."""
    env = {
        **os.environ,
        "FLARE_ENDPOINT_URL": flare.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "t",
    }
    done = subprocess.run([str(FLARE), "console"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(f"{flare.url}/_flare/login?token=")
    return url


def get(url: str, cookie: str | None = None) -> http.client.HTTPResponse:
    """``GET url`` without following redirects."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=15)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request("GET", target, headers={"Cookie": f"flare_console={cookie}"} if cookie else {})
    return connection.getresponse()


def sign_in(flare: FlareServer) -> str:
    """A session cookie's value, from a fresh login URL."""
    reply = get(login_url(flare))
    assert reply.status == 303 and reply.getheader("Location") == "/_flare/"
    cookie = reply.getheader("Set-Cookie") or ""
    return cookie.split(";", 1)[0].split("=", 1)[1]


@pytest.mark.parametrize(
    "path", ["/_flare/", "/_flare", "/_flare/events", "/_flare/assets/console.js", "/_flare/logs"]
)
def test_without_a_session_every_console_route_says_how_to_get_in(flare: FlareServer, path: str) -> None:
    reply = get(flare.url + path)
    body = reply.read().decode()
    assert reply.status == 401
    assert "flare console" in body and "console.js" not in body
    assert reply.getheader("Cache-Control") == "no-store"


def test_the_login_url_sets_a_strict_http_only_cookie_and_works_once(flare: FlareServer) -> None:
    url = login_url(flare)
    reply = get(url)
    assert reply.status == 303
    cookie = (reply.getheader("Set-Cookie") or "").lower()
    for attribute in ("httponly", "samesite=strict", "path=/_flare", "max-age="):
        assert attribute in cookie
    again = get(url)
    assert again.status == 401 and "used already" in again.read().decode()
    assert get(f"{flare.url}/_flare/login?token=made-up").status == 401


def test_a_login_url_needs_a_signed_request(flare: FlareServer) -> None:
    unsigned = urllib.request.Request(f"{flare.url}/flare/v1/console/login", data=b"{}", method="POST")
    unsigned.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403


def test_a_function_can_neither_get_a_login_url_nor_open_the_console(flare: FlareServer, lam: Any) -> None:
    source = """\
import os, urllib.error, urllib.request
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

def status(request):
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code

def handler(event, context):
    base = os.environ["AWS_ENDPOINT_URL"]
    url = base + "/flare/v1/console/login"
    signed = AWSRequest("POST", url, data=b"{}", headers={"Content-Type": "application/json"})
    credentials = botocore.session.get_session().get_credentials()
    SigV4Auth(credentials, "lambda", os.environ["AWS_REGION"]).add_auth(signed)
    login = status(urllib.request.Request(url, data=b"{}", method="POST", headers=dict(signed.headers)))
    page = status(urllib.request.Request(base + "/_flare/login?token=" + event["token"]))
    return {"login": login, "page": page}
"""
    create_function(lam, "curious", python_function(source), Timeout=30)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(login_url(flare)).query)["token"][0]
    answer = json.loads(
        lam.invoke(FunctionName="curious", Payload=json.dumps({"token": token}))["Payload"].read()
    )
    assert answer["login"] == 403
    assert answer["page"] == 403  # refused by who opened the connection, the token unspent
    assert get(f"{flare.url}/_flare/login?token={token}").status == 303


def test_the_signed_in_page_shows_functions_concurrency_and_sources(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "shown", HELLO)
    lam.put_function_concurrency(FunctionName="shown", ReservedConcurrentExecutions=3)
    version = lam.publish_version(FunctionName="shown")["Version"]
    lam.create_alias(FunctionName="shown", Name="live", FunctionVersion=version)
    lam.invoke(FunctionName="shown", InvocationType="Event")
    sqs = flare.client("sqs")
    queue = sqs.create_queue(QueueName="shown-queue")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="shown", Enabled=False)
    cookie = sign_in(flare)
    reply = get(f"{flare.url}/_flare/", cookie)
    page = reply.read().decode()
    assert reply.status == 200
    assert "default-src 'none'" in (reply.getheader("Content-Security-Policy") or "")
    assert 'data-function="shown" data-limit="3"' in page
    assert "live → 1" in page and "reserved 3" in page
    assert "<td>async</td><td>async</td><td>shown</td>" in page
    assert "<td>sqs</td><td>shown-queue</td><td>shown</td><td>Disabled</td>" in page
    assert "<td>sqs shown-queue (Disabled)</td>" in page  # in the function's own row
    assert "http://" not in page.replace(flare.url, "") and "https://" not in page  # nothing off this server
    script = get(f"{flare.url}/_flare/assets/console.js", cookie)
    assert script.status == 200 and script.getheader("Content-Type", "").startswith("text/javascript")
    assert "EventSource" in script.read().decode()
    panel = get(f"{flare.url}/_flare/panels/functions", cookie)
    assert panel.status == 200 and 'data-function="shown"' in panel.read().decode()


def test_the_functions_panel_shows_what_each_function_would_have_cost(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "costed", HELLO)
    lam.invoke(FunctionName="costed")
    cookie = sign_in(flare)
    panel = get(f"{flare.url}/_flare/panels/functions", cookie).read().decode()
    row = panel[panel.index('<tr data-function="costed"') :].split("</tr>", 1)[0]
    [cost] = re.findall(r"<td>\$([0-9.]+)</td>", row)
    # one request ($0.20 per million) and a few ms at 1 GB ($0.0000166667 per GB-s), INIT included
    assert 0.0000002 < float(cost) < 0.00001, row
    assert re.search(r"cost so far \$[0-9.]+ at Lambda's us-east-1 prices", panel)


def test_the_console_streams_the_feed_and_follows_a_log(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "followed", HELLO)
    cookie = sign_in(flare)
    stream = LiveStream(get(f"{flare.url}/_flare/events", cookie))
    try:
        assert stream.next()["kind"] == "snapshot"
        lam.invoke(FunctionName="followed")
        stream.until(lambda e: e["kind"] == "invocation" and e["function"] == "followed")
    finally:
        stream.close()
    log = json.loads(get(f"{flare.url}/_flare/logs?function=followed&offset=0", cookie).read())
    assert any("hello from the log" in event["message"] for event in log["events"])
    later = json.loads(
        get(f"{flare.url}/_flare/logs?function=followed&offset={log['nextOffset']}", cookie).read()
    )
    assert later["events"] == []
    missing = get(f"{flare.url}/_flare/logs?function=nobody", cookie)
    assert missing.status == 404


def test_the_signed_live_stream_and_the_console_agree(flare: FlareServer, lam: Any) -> None:
    """Both read one feed: the same invocation reaches both."""
    create_function(lam, "twice", HELLO)
    cookie = sign_in(flare)
    console = LiveStream(get(f"{flare.url}/_flare/events", cookie))
    signed = LiveStream(signed_urlopen(f"{flare.url}/flare/v1/live"))
    try:
        console.next(), signed.next()
        request_id = lam.invoke(FunctionName="twice")["ResponseMetadata"]["RequestId"]
        for stream in (console, signed):
            stream.until(lambda e: e["kind"] == "invocation" and e["request_id"] == request_id)
    finally:
        console.close()
        signed.close()


def test_a_function_urls_own_flare_path_is_the_functions_not_the_console(
    flare: FlareServer, lam: Any
) -> None:
    """Function URLs are told by ``Host`` before any route: ``/_flare/`` there is the function's."""
    host = host_of(url_for(lam, "under-url", ECHO))
    status, _, body = request(flare, host, path="/_flare/")
    assert status == 200
    assert json.loads(body)["rawPath"] == "/_flare/"
