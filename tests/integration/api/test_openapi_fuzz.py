"""The OpenAPI document tells the truth: schemathesis runs over it against a real server.

``chronoflow api`` runs as its own process on 127.0.0.1, on a migrated SQLite file and the suite's
Redis, with no worker and no scheduler: nothing the fuzzer creates ever runs. Every way out is
closed as well: ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` and both WhatsApp gateways point at a
local port that refuses connections, so a base URL or webhook URL the fuzzer invents reaches
nothing. The provider routes therefore answer 502 and ``/health`` answers 503 (no worker): those
two statuses pass only where the document declares them; any other 5xx fails, and so does any
answer whose status, content type, headers or body the document does not describe.

Schemathesis runs every check (``--checks all``) through its four phases, stateful included, with
credentials (the bearer token, and the Evolution shared secret on its webhook). Without any, every
protected operation is refused before its input is read, so that run skips the stateful phase (no
resource can be created to chain) and takes fewer examples: what it checks is that each refusal,
and each public route, answers as the document says.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronoflow.api.app import create_app
from chronoflow.api.paging import MAX_SKIP
from chronoflow.config import Settings
from chronoflow.devtools.embedded_redis import EmbeddedRedis, free_port
from chronoflow.store.migrations import upgrade

TOKEN = "fuzz-token-0123456789abcdef"
WAHA_HMAC_KEY = "fuzz-waha-hmac-key"
EVOLUTION_SECRET = "fuzz-evolution-secret"

MAX_EXAMPLES = int(os.environ.get("CHRONOFLOW_FUZZ_EXAMPLES", "5"))
"""Test cases per operation and phase; small enough that both runs stay within a few minutes."""
SEED = int(os.environ.get("CHRONOFLOW_FUZZ_SEED", "8080"))
"""Fixed, so a failure reproduces; set CHRONOFLOW_FUZZ_SEED to explore further."""
RUN_TIMEOUT_S = 600
START_TIMEOUT_S = 30.0

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

ALLOWED_SERVER_ERRORS = ("502", "503")
"""Answers of a gateway that refuses connections and of /health without a worker."""

POSITIVE_ANSWERS = ("2xx", "401", "404", "409", "413", "422", "502", "503")
"""What a request the document calls valid may get. 422 is a value the schema cannot judge (an
unknown time zone, an unreadable schedule, an id that names nothing); a 400 means the document
called a malformed request valid, and fails."""


@dataclass
class LiveServer:
    url: str
    log: Path


class ClosedPort:
    """A port bound on 127.0.0.1 but never listening: every connection to it is refused."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


def _environment(base: dict[str, str], **values: str) -> dict[str, str]:
    env = {key: value for key, value in base.items() if key.upper() not in ("NO_PROXY", *PROXY_VARIABLES)}
    env.update(values)
    return env


@pytest.fixture(scope="module")
def live_api(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``chronoflow api`` on 127.0.0.1 with every outbound route closed; no worker, no scheduler.

    One process serves the module (per test process): no test here needs an empty database, and
    starting the API is most of what each would cost.
    """
    tmp_path = tmp_path_factory.mktemp("live-api")
    sqlite_url, redis_url = f"sqlite+aiosqlite:///{tmp_path / 'chronoflow.db'}", redis_server.url
    upgrade(sqlite_url)
    closed = ClosedPort()
    port = free_port()
    log = tmp_path / "api.log"
    env = _environment(
        dict(os.environ),
        DATABASE_URL=sqlite_url, REDIS_URL=redis_url, CHRONOFLOW_API_TOKENS=TOKEN,
        CHRONOFLOW_HOME=str(tmp_path / "home"), HOST="127.0.0.1", LOG_LEVEL="WARNING",
        WAHA_BASE_URL=closed.url, EVOLUTION_BASE_URL=closed.url, HTTP_MAX_RETRIES="0",
        WAHA_WEBHOOK_HMAC_KEY=WAHA_HMAC_KEY, EVOLUTION_WEBHOOK_SECRET=EVOLUTION_SECRET,
        **{name: closed.url for name in PROXY_VARIABLES},
    )
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "chronoflow", "api", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(process, url, log)
        yield LiveServer(url, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        closed.close()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chronoflow api exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"{url}/schema/openapi.json", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"chronoflow api did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


def _config(tmp_path: Path, authenticated: bool) -> Path:
    """The schemathesis.toml of one run."""
    statuses = ", ".join(f'"{status}"' for status in ("2xx", "3xx", "4xx", *ALLOWED_SERVER_ERRORS))
    positive = ", ".join(f'"{status}"' for status in POSITIVE_ANSWERS)
    lines = [
        "[checks.not_a_server_error]", f"expected-statuses = [{statuses}]",
        "[checks.positive_data_acceptance]", f"expected-statuses = [{positive}]",
    ]
    if authenticated:
        lines += [
            "[auth.openapi.bearer]", f'bearer = "{TOKEN}"',
            "[auth.openapi.evolutionSecret]", f'api_key = "{EVOLUTION_SECRET}"',
        ]
    path = tmp_path / f"schemathesis-{'auth' if authenticated else 'anonymous'}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
@pytest.mark.parametrize("authenticated", [True, False], ids=["with-token", "without-token"])
def test_schemathesis_finds_nothing(live_api: LiveServer, tmp_path: Path, authenticated: bool) -> None:
    """Every operation, every check, every phase: no 500, no answer the document does not describe."""
    if importlib.util.find_spec("schemathesis") is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'", pytrace=False)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(_config(tmp_path, authenticated)),
        "run", f"{live_api.url}/schema/openapi.json",
        "--checks", "all", "--phases", "examples,coverage,fuzzing" + (",stateful" if authenticated else ""),
        "--max-examples", str(MAX_EXAMPLES if authenticated else 2), "--seed", str(SEED), "--workers", "1",
        "--request-timeout", "20", "--generation-database", "none", "--no-color",
    ]
    env = _environment(dict(os.environ), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                            check=False)
    report = result.stdout + result.stderr
    server_log = live_api.log.read_text(errors="replace")
    assert result.returncode == 0, f"schemathesis found problems (seed {SEED}):\n{report[-30000:]}"
    assert "Traceback (most recent call last)" not in server_log, server_log[-20000:]
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None and int(tested.group(1)) >= 40, report[-5000:]


# --- targeted checks of the document and of the answers it describes -------------------------------
@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as the app builds it (no request is served: the database and Redis stay unused)."""
    database = tmp_path_factory.mktemp("document") / "chronoflow.db"
    app = create_app(Settings(api_tokens=(TOKEN,), database_url=f"sqlite+aiosqlite:///{database}"),
                     "redis://127.0.0.1:1/0")
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return json.loads(json.dumps(schema))


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method.upper(), path, operation


def test_public_routes_and_webhooks_declare_their_own_security(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearer": []}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["wahaHmac"] == {**schemes["wahaHmac"], "type": "apiKey", "in": "header", "name": "X-Webhook-Hmac"}
    assert schemes["evolutionSecret"]["name"] == "X-Webhook-Secret"
    assert schemes["evolutionSecretQuery"] == {**schemes["evolutionSecretQuery"], "in": "query", "name": "secret"}
    declared = {(method, path): operation.get("security") for method, path, operation in _operations(document)}
    assert declared.pop(("GET", "/health")) == []
    assert declared.pop(("GET", "/metrics")) == []
    assert declared.pop(("POST", "/waha/webhooks")) == [{"wahaHmac": []}]
    assert declared.pop(("POST", "/waha/webhooks/sessions/status")) == [{"wahaHmac": []}]
    assert declared.pop(("POST", "/evolution/webhooks")) == [{"evolutionSecret": []}, {"evolutionSecretQuery": []}]
    assert declared and set(map(str, declared.values())) == {"None"}, "every other route inherits the bearer token"


def test_every_error_answer_has_the_one_error_body(document: dict[str, Any]) -> None:
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"statusCode", "detail", "requestId"}
    assert "status_code" not in json.dumps(document)
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/health":
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
        if operation.get("security") != []:
            assert "401" in operation["responses"], (method, path)


def test_request_bodies_refuse_unknown_fields(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None or "$ref" not in content["schema"]:
            continue
        name = content["schema"]["$ref"].rsplit("/", 1)[1]
        assert document["components"]["schemas"][name]["additionalProperties"] is False, (method, path, name)


def test_every_list_bounds_skip_and_take(document: dict[str, Any]) -> None:
    lists = [(path, operation) for method, path, operation in _operations(document)
             if method == "GET" and any(p["name"] == "skip" for p in operation.get("parameters", []))]
    assert len(lists) >= 5
    for path, operation in lists:
        parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
        assert (parameters["skip"]["minimum"], parameters["skip"]["maximum"]) == (0, MAX_SKIP), path
        assert parameters["take"]["minimum"] == 1 and parameters["take"]["maximum"] >= 1, path


def test_enums_of_the_document(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    create = schemas["ChronoCreate"]["properties"]
    assert create["targetType"]["enum"] == ["HTTP", "MESSAGE", "FUNCTION"]
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= set(create["method"]["oneOf"][0]["enum"])
    assert schemas["ChannelCreate"]["properties"]["provider"]["enum"] == ["WAHA", "EVOLUTION"]
    for name in ("ChronoCreate", "FunctionCreate", "ChannelCreate"):
        assert schemas[name]["properties"]["name"]["minLength"] == 1, name
    assert schemas["ParseRequest"]["properties"]["expression"]["minLength"] == 1
    assert schemas["FunctionCreate"]["properties"]["code"]["minLength"] == 1


def test_metrics_are_prometheus_text_with_one_charset(live_api: LiveServer) -> None:
    response = httpx.get(f"{live_api.url}/metrics", timeout=10)
    assert response.status_code == 200
    content_type = response.headers["content-type"]
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    assert content_type.count("charset") == 1, content_type
    assert "# TYPE chronoflow_workers gauge" in response.text


LISTS = ("/chronos", "/functions", "/channels", "/inbound-events")


@pytest.mark.parametrize("query", ["skip=99999999999999999999", f"skip={2**63}", "skip=-1", "take=0", "take=100000"])
def test_lists_refuse_out_of_range_paging_naming_the_parameter(live_api: LiveServer, query: str) -> None:
    name = query.partition("=")[0]
    for path in LISTS:
        response = httpx.get(f"{live_api.url}{path}?{query}", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=10)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["field"] == name, (path, response.text)


def test_nothing_leaves_the_fuzzed_server(live_api: LiveServer, http_receiver: Any) -> None:
    """The fence the fuzz runs rely on: a base URL the fuzzer could invent (here a live local server)
    is reached only through the closed proxy, so the call fails and the server sees nothing."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(f"{live_api.url}/channels", headers=auth, timeout=10, json={
        "name": "fenced", "provider": "WAHA", "config": {"session": "default", "baseUrl": http_receiver.url}})
    assert created.status_code == 201, created.text
    refreshed = httpx.post(f"{live_api.url}/channels/{created.json()['id']}/refresh", headers=auth, timeout=10)
    assert refreshed.status_code == 502, refreshed.text
    assert http_receiver.requests == []


@pytest.mark.parametrize(("change", "field"), [
    ({"isActive": 0}, "isActive"), ({"isActive": "true"}, "isActive"), ({"misfireGraceSeconds": "60"}, "misfireGraceSeconds"),
    ({"colour": "red"}, "colour"), ({"headers": {"X-A": 1}}, "headers"),
], ids=["bool-as-int", "bool-as-text", "int-as-text", "unknown-field", "header-not-text"])
def test_bodies_hold_to_the_json_types_the_document_states(live_api: LiveServer, change: dict[str, Any],
                                                           field: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"name": "typed", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/", **change}
    response = httpx.post(f"{live_api.url}/chronos", headers=auth, json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field, response.text
    listed = httpx.get(f"{live_api.url}/chronos", headers=auth, timeout=10).json()
    assert listed["total"] == 0


def test_an_integral_number_is_an_integer(live_api: LiveServer) -> None:
    """JSON Schema counts 60.0 as an integer, so the API does too."""
    body = {"name": "typed", "cron": "0 8 * * *", "targetType": "HTTP", "url": "http://127.0.0.1:9/",
            "misfireGraceSeconds": 60.0}
    response = httpx.post(f"{live_api.url}/chronos", headers={"Authorization": f"Bearer {TOKEN}"}, json=body,
                          timeout=10)
    assert response.status_code == 201, response.text
    assert response.json()["misfireGraceSeconds"] == 60


@pytest.mark.parametrize(("path", "methods"), [
    ("/chronos", "GET, OPTIONS, POST"), ("/chronos/some-id", "DELETE, GET, OPTIONS, PATCH"),
    ("/channels", "GET, OPTIONS, POST"), ("/functions/some-id/test", "OPTIONS, POST"),
])
def test_options_lists_every_method_of_the_path(live_api: LiveServer, path: str, methods: str) -> None:
    response = httpx.options(f"{live_api.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 204
    assert response.headers["allow"] == methods
