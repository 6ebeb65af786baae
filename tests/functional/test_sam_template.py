"""``flare deploy --template``: a SAM project deployed as it is, against a real server.

The schedule uses ``rate(1 second)`` (a Flare extension: EventBridge's minimum is a minute) so the
test sees it fire within seconds, as ``test_schedules`` does.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FLARE, ROLE, FlareServer, zip_files
from tests.signing import signed_urlopen

APP = """\
import json, os
def worker(event, context):
    for record in event.get("Records", []):
        print("GOT " + record.get("body", ""))
    if "Records" not in event:
        print("EVENT " + json.dumps(event, sort_keys=True))
    return "ok"
def api(event, context):
    body = {"greeting": os.environ["GREETING"], "queue": os.environ["QUEUE_URL"], "path": event["rawPath"]}
    return {"statusCode": 200, "body": json.dumps(body)}
"""

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    MemorySize: 1024
    Timeout: 5
    CodeUri: src/
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.worker
      Events:
        Messages:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 second)
            Input: '{"tick": true}'
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.api
      Environment:
        Variables:
          GREETING: !Sub "hello from ${AWS::Region}"
          QUEUE_URL: !Ref Jobs
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get
"""


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def project(tmp_path: Path, template: str = TEMPLATE, app: str = APP) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text(app)
    path = tmp_path / "template.yaml"
    path.write_text(template)
    return path


def deploy(flare: FlareServer, template: Path, stack: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(FLARE),
            "deploy",
            "--template",
            str(template),
            "--stack-name",
            stack,
            "--endpoint-url",
            flare.url,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(output: str) -> dict[str, str]:
    """The plan's rows as logical id => action."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("Add", "Modify", "Remove", "NoChange"):
            found[parts[1]] = parts[0]
    return found


def logged(flare: FlareServer, name: str, marker: str) -> list[str]:
    with signed_urlopen(f"{flare.url}/flare/v1/functions/{name}/logs?offset=0", timeout=10) as response:
        events = json.loads(response.read())["events"]
    return [e["message"].split(marker, 1)[1].strip() for e in events if marker in e["message"]]


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def get_url(flare: FlareServer, url: str, path: str) -> tuple[int, Any]:
    host = urllib.parse.urlsplit(url).netloc
    port = urllib.parse.urlsplit(flare.url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def state(lam: Any, flare: FlareServer, functions: list[str]) -> dict[str, Any]:
    """What a run that writes nothing leaves unchanged: revisions, mappings, schedules, URLs."""
    snapshot: dict[str, Any] = {}
    for name in functions:
        config = lam.get_function_configuration(FunctionName=name)
        snapshot[name] = (config["RevisionId"], config["LastModified"])
        mappings = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
        snapshot[f"{name} mappings"] = sorted((m["UUID"], m["LastModified"]) for m in mappings)
        urls = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
        snapshot[f"{name} urls"] = sorted((u["FunctionUrl"], u["LastModifiedTime"]) for u in urls)
    with signed_urlopen(f"{flare.url}/flare/v1/schedules", timeout=10) as response:
        schedules = json.loads(response.read())["Schedules"]
    snapshot["schedules"] = sorted(s["Id"] for s in schedules if s["FunctionName"] in functions)
    return snapshot


def test_a_sam_project_deploys_with_one_command_and_works(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    stack = unique("sam")
    done = deploy(flare, project(tmp_path), stack)
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout) == {
        "Jobs": "Add", "Worker": "Add", "Api": "Add", "WorkerMessages": "Add", "WorkerTick": "Add",
        "ApiHelloPermission": "Add",
    }  # fmt: skip
    sqs = flare.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{stack}-Jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="a job")
    assert wait_for(lambda: "a job" in logged(flare, f"{stack}-Worker", "GOT "))
    assert wait_for(lambda: '{"tick": true}' in logged(flare, f"{stack}-Worker", "EVENT "))
    url = next(line.split(" URL: ")[1] for line in done.stdout.splitlines() if line.startswith("Api URL: "))
    status, body = get_url(flare, url, "/hello")
    assert status == 200
    assert body == {"greeting": "hello from us-east-1", "queue": queue_url, "path": "/hello"}


def test_a_second_run_changes_nothing(flare: FlareServer, lam: Any, tmp_path: Path) -> None:
    stack = unique("again")
    template = project(tmp_path)
    assert deploy(flare, template, stack).returncode == 0
    functions = [f"{stack}-Worker", f"{stack}-Api"]
    before = state(lam, flare, functions)
    again = deploy(flare, template, stack)
    assert again.returncode == 0, again.stderr
    assert set(rows(again.stdout).values()) == {"NoChange"}
    assert "No changes to deploy" in again.stdout
    assert state(lam, flare, functions) == before


def test_a_changed_template_changes_only_what_changed(flare: FlareServer, lam: Any, tmp_path: Path) -> None:
    stack = unique("change")
    template = project(tmp_path)
    assert deploy(flare, template, stack).returncode == 0
    api_before = lam.get_function_configuration(FunctionName=f"{stack}-Api")["RevisionId"]
    changed = TEMPLATE.replace("      Handler: app.worker\n", "      Handler: app.worker\n      Timeout: 9\n")
    changed = changed.replace("BatchSize: 5", "BatchSize: 7").replace("rate(1 second)", "rate(1 hour)")
    template.write_text(changed)
    done = deploy(flare, template, stack)
    assert done.returncode == 0, done.stderr
    plan = rows(done.stdout)
    assert [plan[key] for key in ("Jobs", "Worker", "Api", "WorkerMessages", "WorkerTick")] == [
        "NoChange",
        "Modify",
        "NoChange",
        "Modify",
        "Add",
    ]
    assert list(plan.values()).count("Remove") == 1  # the old rate(1 second) schedule
    assert "(Timeout)" in done.stdout and "(BatchSize)" in done.stdout
    assert lam.get_function_configuration(FunctionName=f"{stack}-Worker")["Timeout"] == 9
    assert lam.get_function_configuration(FunctionName=f"{stack}-Api")["RevisionId"] == api_before
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{stack}-Worker")["EventSourceMappings"]
    assert mapping["BatchSize"] == 7
    with signed_urlopen(f"{flare.url}/flare/v1/schedules", timeout=10) as response:
        schedules = json.loads(response.read())["Schedules"]
    mine = [s["ScheduleExpression"] for s in schedules if s["FunctionName"] == f"{stack}-Worker"]
    assert mine == ["rate(1 hour)"]


def test_a_dry_run_prints_the_plan_and_writes_nothing(flare: FlareServer, lam: Any, tmp_path: Path) -> None:
    stack = unique("dry")
    done = deploy(flare, project(tmp_path), stack, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout)["Worker"] == "Add"
    assert "6 to add, 0 to modify, 0 to remove." in done.stdout
    assert "Api URL: (known after deploy)" in done.stdout
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"{stack}-Worker")


ALIASED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Libs:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
      CompatibleRuntimes: [python3.12]
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  Counter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.worker
      Runtime: python3.12
      MemorySize: 1024
      Layers: [!Ref Libs]
      AutoPublishAlias: live
      ReservedConcurrentExecutions: 3
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 1
      Events:
        Stream:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: LATEST
"""


def test_an_alias_with_provisioned_concurrency_layers_and_a_stream(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    stack = unique("alias")
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "layer" / "python" / "shared.py").write_text("VALUE = 1\n")
    template = project(tmp_path, ALIASED)
    done = deploy(flare, template, stack)
    assert done.returncode == 0, done.stderr
    name = f"{stack}-Counter"
    alias = lam.get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == "1"
    provisioned = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert provisioned["RequestedProvisionedConcurrentExecutions"] == 1
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    config = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert [layer["Arn"].split(":")[-2:] for layer in config["Layers"]] == [["Libs", "1"]]
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{name}:live")["EventSourceMappings"]
    assert mapping["EventSourceArn"].endswith(f":stream/{stack}-Clicks")
    assert set(rows(deploy(flare, template, stack).stdout).values()) == {"NoChange"}
    (tmp_path / "src" / "app.py").write_text(APP + "# changed\n")
    moved = deploy(flare, template, stack)
    assert moved.returncode == 0, moved.stderr
    assert [rows(moved.stdout)[key] for key in ("Counter", "CounterAliaslive")] == ["Modify", "Modify"]
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            "  Table:\n    Type: AWS::DynamoDB::Table\n",
            "Table: resource type AWS::DynamoDB::Table is not supported",
        ),
        (
            "  Fn2:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: s3://bucket/code.zip\n"
            "      Handler: app.worker\n      Runtime: python3.12\n",
            "Fn2: code must be a local directory or .zip",
        ),
        (
            "  Fn2:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n"
            "      Handler: app.worker\n      Runtime: python3.12\n      Events:\n        Up:\n"
            "          Type: S3\n          Properties:\n            Bucket: !Ref Bucket\n"
            "            Events: s3:ObjectCreated:*\n",
            "the SAM translator refused the template",
        ),
        (
            "  Fn2:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: src/\n"
            "      Handler: app.worker\n"
            "      Runtime: python3.12\n      Role: arn:aws:iam::000000000000:role/r\n"
            "      VpcConfig: {SubnetIds: [], SecurityGroupIds: []}\n",
            "Fn2: property VpcConfig of AWS::Lambda::Function is not supported",
        ),
    ],
)
def test_what_flare_cannot_deploy_is_refused_with_a_clear_message_before_any_write(
    flare: FlareServer, lam: Any, tmp_path: Path, resources: str, message: str
) -> None:
    stack = unique("refused")
    template = project(tmp_path, TEMPLATE + resources)
    done = deploy(flare, template, stack)
    assert done.returncode == 1
    assert message in done.stderr and done.stderr.startswith("error: ValidationError: ")
    assert "Traceback" not in done.stderr
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"{stack}-Worker")
    with pytest.raises(flare.client("sqs").exceptions.QueueDoesNotExist):
        flare.client("sqs").get_queue_url(QueueName=f"{stack}-Jobs")


def test_deploy_without_a_template_still_takes_name_and_path(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    name = unique("plain")
    (tmp_path / "app.py").write_text(APP)
    missing = subprocess.run(
        [str(FLARE), "deploy", "--endpoint-url", flare.url], capture_output=True, text=True
    )
    assert (
        missing.returncode == 2 and "give NAME PATH --handler HANDLER, or --template FILE" in missing.stderr
    )
    done = subprocess.run(
        [str(FLARE), "deploy", name, str(tmp_path), "--handler", "app.worker", "--endpoint-url", flare.url],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert lam.get_function_configuration(FunctionName=name)["Handler"] == "app.worker"


PLAIN = """\
Resources:
  Echo:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-echo"
      Code: src/
      Handler: app.api
      Runtime: python3.12
      MemorySize: 1024
      Role: arn:aws:iam::000000000000:role/plain
      Environment:
        Variables:
          GREETING: plain
          QUEUE_URL: none
  EchoUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Echo.Arn
      AuthType: NONE
  Inline:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return {'inline': True}\\n"
      Handler: index.handler
      Runtime: python3.12
      MemorySize: 1024
"""


def test_plain_cloudformation_and_inline_code_deploy_too(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    stack = unique("plain")
    template = project(tmp_path, "Transform: AWS::Serverless-2016-10-31\n" + PLAIN)
    done = deploy(flare, template, stack)
    assert done.returncode == 0, done.stderr
    assert lam.get_function_configuration(FunctionName=f"{stack}-echo")["Role"].endswith(":role/plain")
    url = next(line.split(" URL: ")[1] for line in done.stdout.splitlines() if line.startswith("Echo URL: "))
    assert get_url(flare, url, "/x") == (200, {"greeting": "plain", "queue": "none", "path": "/x"})
    answer = lam.invoke(FunctionName=f"{stack}-Inline")["Payload"].read()
    assert json.loads(answer) == {"inline": True}
    assert set(rows(deploy(flare, template, stack).stdout).values()) == {"NoChange"}


SERVERLESS = """\
service: ${env:SERVICE_NAME}
provider:
  name: aws
  runtime: python3.12
  memorySize: 1024
  stage: ${opt:stage, 'dev'}
  environment:
    GREETING: hello-${sls:stage}
    QUEUE_URL: !Ref Jobs
functions:
  worker:
    handler: src/app.worker
    reservedConcurrency: 2
    events:
      - sqs:
          arn: !GetAtt Jobs.Arn
          batchSize: 3
      - schedule:
          rate: rate(1 second)
          input: {tick: true}
  api:
    handler: src/app.api
    events:
      - httpApi: 'GET /hello'
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
"""


def test_a_serverless_project_deploys_with_one_command_and_works(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    service = unique("sls")
    project(tmp_path)
    (tmp_path / "serverless.yml").write_text(SERVERLESS)
    command = [
        str(FLARE),
        "deploy",
        "--serverless",
        str(tmp_path / "serverless.yml"),
        "--endpoint-url",
        flare.url,
    ]
    environ = {**os.environ, "SERVICE_NAME": service}
    done = subprocess.run([*command, "--parameter", "stage=qa"], capture_output=True, text=True, env=environ)
    assert done.returncode == 0, done.stderr
    worker = f"{service}-qa-worker"
    assert lam.get_function_concurrency(FunctionName=worker)["ReservedConcurrentExecutions"] == 2
    (mapping,) = lam.list_event_source_mappings(FunctionName=worker)["EventSourceMappings"]
    assert mapping["BatchSize"] == 3
    sqs = flare.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=f"{service}-qa-Jobs")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="a serverless job")
    assert wait_for(lambda: "a serverless job" in logged(flare, worker, "GOT "))
    assert wait_for(lambda: '{"tick": true}' in logged(flare, worker, "EVENT "))
    url = next(line.split(" URL: ")[1] for line in done.stdout.splitlines() if " URL: " in line)
    assert get_url(flare, url, "/hello") == (
        200,
        {"greeting": "hello-qa", "queue": queue_url, "path": "/hello"},
    )
    again = subprocess.run([*command, "--parameter", "stage=qa"], capture_output=True, text=True, env=environ)
    assert set(rows(again.stdout).values()) == {"NoChange"}, again.stdout


def test_template_and_serverless_together_are_a_usage_error(tmp_path: Path) -> None:
    path = project(tmp_path)
    done = subprocess.run(
        [str(FLARE), "deploy", "--template", str(path), "--serverless", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "give --template or --serverless, not both" in done.stderr


EXTRA = """\
  Spare:
    Type: AWS::SQS::Queue
  Extra:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.worker
      Events:
        Hourly:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
"""


def test_what_the_template_no_longer_names_is_removed_and_nothing_else(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    stack = unique("prune")
    template = project(tmp_path, TEMPLATE + EXTRA)
    assert deploy(flare, template, stack).returncode == 0
    outsider = f"{stack}-Outsider"
    lam.create_function(
        FunctionName=outsider, Runtime="python3.12", Handler="app.worker", Role=ROLE,
        Code={"ZipFile": zip_files({"app.py": APP})},
    )  # fmt: skip
    template.write_text(TEMPLATE)
    planned = deploy(flare, template, stack, "--dry-run")
    lines = [line.split() for line in planned.stdout.splitlines()]
    assert not [line for line in lines if line[:1] in (["Add"], ["Modify"])]
    removed = {line[2]: line[1] for line in lines if line[:1] == ["Remove"]}
    assert removed.keys() == {
        "AWS::Lambda::Function",
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
    }  # + Extra's schedule
    assert (removed["AWS::Lambda::Function"], removed["AWS::SQS::Queue"]) == (
        f"{stack}-Extra",
        f"{stack}-Spare",
    )
    done = deploy(flare, template, stack)
    assert done.returncode == 0, done.stderr
    assert rows(done.stdout)[f"{stack}-Extra"] == "Remove"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=f"{stack}-Extra")
    sqs = flare.client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=f"{stack}-Spare")
    assert lam.get_function(FunctionName=outsider)["Configuration"]["FunctionName"] == outsider
    assert sqs.get_queue_url(QueueName=f"{stack}-Jobs")["QueueUrl"]
    assert set(rows(deploy(flare, template, stack).stdout).values()) == {"NoChange"}


TYPED = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Memory:
    Type: Number
    Default: 1024
  Batch:
    Type: String
    Default: "4"
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Typed:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.worker
      Runtime: python3.12
      MemorySize: !Ref Memory
      Environment:
        Variables:
          PORT: 8080
          DEBUG: true
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: !Ref Batch
"""


def test_parameters_and_yaml_scalars_get_cloudformations_types(
    flare: FlareServer, lam: Any, tmp_path: Path
) -> None:
    stack = unique("typed")
    template = project(tmp_path, TYPED)
    done = deploy(flare, template, stack, "--parameter", "Memory=2048")
    assert done.returncode == 0, done.stderr
    config = lam.get_function_configuration(FunctionName=f"{stack}-Typed")
    assert (config["MemorySize"], config["Environment"]["Variables"]) == (
        2048,
        {"PORT": "8080", "DEBUG": "true"},
    )
    (mapping,) = lam.list_event_source_mappings(FunctionName=f"{stack}-Typed")["EventSourceMappings"]
    assert mapping["BatchSize"] == 4
    again = deploy(flare, template, stack, "--parameter", "Memory=2048")
    assert set(rows(again.stdout).values()) == {"NoChange"}, again.stdout
