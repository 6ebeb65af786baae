# Flare: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SDK    := $(VENV)/lambda-sdk
# The AWS SDK for JavaScript v3 clients of the services Flare serves, for Node.js functions (as
# Lambda's Node.js runtimes include the SDK), and the durable execution SDK (as nodejs22.x and
# 24.x include it); the runtime's NODE_PATH names $(SDK)/nodejs/node_modules.
NODE_SDK_LIST  := src/flare/runtimes/lambda_node/sdk-packages.txt
NODE_SDK_STAMP := $(SDK)/nodejs/.installed
# Flare's Java runtime client, compiled with the host's javac (Java functions run it from
# $(SDK)/java/flare-runtime.jar); no javac: Java functions cannot run.
JAVA_CLIENT_SRC := $(wildcard src/flare/runtimes/lambda_java/flare/runtime/*.java)
JAVA_CLIENT_JAR := $(SDK)/java/flare-runtime.jar

.PHONY: install run test lint unit conformance fuzz bench bench-cluster bench-scale bench-density soak screenshot clean

install: $(STAMP) $(NODE_SDK_STAMP) $(JAVA_CLIENT_JAR)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The SDK that function runtimes provide (as Lambda's Python runtimes ship boto3, and
	@# python3.13 and later the durable execution SDK, which needs Python 3.11).
	$(BIN)/python -m pip install --quiet --upgrade --target $(SDK) boto3 snapshot-restore-py \
	  aws-durable-execution-sdk-python
	@# python3.9 functions get a build for 3.9 (the one above needs 3.10: urllib3 2.8).
	$(BIN)/python -m pip install --quiet --upgrade --target $(SDK)-py39 --python-version 3.9 \
	  --only-binary=:all: boto3 snapshot-restore-py
	@# debugpy, for debugged Python functions only (FLARE_DEBUG; sandbox/debug_ports.py): its
	@# pure-Python build, so one copy serves python3.9-3.13.
	$(BIN)/python -m pip install --quiet --upgrade --target $(VENV)/lambda-debug --only-binary=:all: \
	  --platform any --implementation py --python-version 3.9 'debugpy>=1.8.1'
	@# nftables makes link-local and metadata addresses unreachable from functions (as root).
	@PATH="$$PATH:/usr/sbin:/sbin" command -v nft >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] \
	  || ! command -v apt-get >/dev/null 2>&1 || apt-get install -y -qq nftables >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq nftables >/dev/null) \
	  || echo "nftables not installed: functions can reach link-local addresses (flare doctor)"
	@# Debian's headless Chromium and its chromedriver, for the console's browser test (as root).
	@command -v chromedriver >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
	  || apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: the console's browser test is skipped"
	@# Debian's catatonit (static): each environment's pid 1, in place of a forked interpreter (as root).
	@command -v catatonit >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
	  || apt-get install -y -qq catatonit >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq catatonit >/dev/null) \
	  || echo "catatonit not installed: each environment's init is a forked interpreter (~2 MiB more)"
	@# Debian's redis-server, for the tests of several nodes sharing one Redis (--cluster; as root).
	@command -v redis-server >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
	  || apt-get install -y -qq redis-server >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null) \
	  || echo "redis-server not installed: the cluster tests are skipped"
	@touch $(STAMP)

$(NODE_SDK_STAMP): $(NODE_SDK_LIST) | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix $(SDK)/nodejs \
	    $$(cat $(NODE_SDK_LIST)) && touch $@; \
	else echo "npm not found: Node.js functions get no AWS SDK for JavaScript"; fi

$(JAVA_CLIENT_JAR): $(JAVA_CLIENT_SRC) | $(STAMP)
	@if command -v javac >/dev/null 2>&1 && command -v jar >/dev/null 2>&1; then \
	  rm -rf $(SDK)/java/classes && mkdir -p $(SDK)/java/classes && \
	  javac -Xlint:all -Werror --release 17 -d $(SDK)/java/classes $(JAVA_CLIENT_SRC) && \
	  jar --create --file $@ -C $(SDK)/java/classes . && rm -rf $(SDK)/java/classes; \
	else echo "javac not found: Java functions cannot run"; fi

run: install
	$(BIN)/flare serve --host 127.0.0.1 --port 9000 --data-dir ./.flare

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

# Flare's answers against botocore's Lambda model and AWS's documented examples (also in `make test`).
conformance: install
	$(BIN)/pytest -q tests/conformance

# Bytecode compiled first: every test starts `flare serve` processes, and where
# PYTHONDONTWRITEBYTECODE is set each of them would otherwise compile the engine again.
# The 30 slowest tests are listed at the end: the whole run must stay under 15 minutes.
test: lint
	$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/pytest -q -p no:cacheprovider --durations=30 tests

# The fuzzer (tests/fuzz/) at length: FUZZ_EXAMPLES random examples per test (make test runs a
# fixed, derandomized few). E.g. `make fuzz FUZZ_EXAMPLES=20000`.
FUZZ_EXAMPLES ?= 5000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider -o timeout=0 tests/fuzz

bench: install
	$(BIN)/python -m bench

# docs/console.png, the README's picture of the console, taken by its browser test.
screenshot: install
	FLARE_CONSOLE_SCREENSHOT=$(CURDIR)/.console.png $(BIN)/pytest -q -p no:cacheprovider \
	  tests/functional/test_console_browser.py
	mv .console.png docs/console.png

# Three nodes and Redis in network namespaces (root, iproute2): not in `make bench`.
bench-cluster: install
	$(BIN)/python -m bench.cluster
	$(BIN)/python -m bench.cluster_logs

# Up to 1,000 provisioned environments per engine (minutes, several GiB): not in `make bench`.
bench-scale: install
	$(BIN)/python -m bench --only scale

# Up to 5,000 idle provisioned environments in one engine (DENSITY_COUNT; minutes, most of the
# machine's memory; stops with 2 GiB left): PSS and kernel memory per environment. Not in `make bench`.
DENSITY_COUNT ?= 5000
bench-density: install
	$(BIN)/python -m bench.density --count $(DENSITY_COUNT)

# Minutes of mixed load through the public API, then what leaked (not in `make test`).
SOAK_MINUTES ?= 30
soak: install
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) .flare
