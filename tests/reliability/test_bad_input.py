"""Bad input, fuzzed: every HTTP endpoint of the three functions, and the ingress.

More than 10^4 generated requests in all (see CASES). Whatever arrives, the answer is
never a 5xx (the backends are up, so not even 503), never carries a stack trace, shows
every value it echoes HTML-escaped, refuses bodies over 16 KiB with 413, and stores a vote
option exactly as sent: SQL and HTML are data. The functions run as real processes on
the suite's private Redis and MariaDB; the vote page's options are themselves an SQL
injection and a script tag.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.reliability.http import Answer, RawClient
from tests.reliability.servers import PORTS
from tests.support.ports import answers, free_port_block
from tests.support.reliability_mesh import Backends, Mesh

pytestmark = pytest.mark.e2e

SQL_OPTION = "Robert'); DROP TABLE vote_counts;--"
HTML_OPTION = '<script>alert("pwned")</script>'
MARK = "<x-fuzz"  # every fuzzed text that could be echoed starts with this tag
CASES = {
    "vote_post": 2500,
    "vote_get": 1500,
    "featureflag": 500,
    "storage_events": 1500,  # per store, Redis and MySQL
    "storage_options": 600,  # per store
    "results": 500,
    "ingress": 800,
}
assert sum(CASES.values()) + CASES["storage_events"] + CASES["storage_options"] >= 10_000


def fuzz(count: int):  # type: ignore[no-untyped-def]
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@dataclass
class Stack:
    vote: RawClient
    results: RawClient
    storage_redis: RawClient
    storage_mysql: RawClient
    processes: list[subprocess.Popen[bytes]]


def _start(
    name: str, version: str, port: int, env: dict[str, str], log_dir
) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    clean = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    clean.update(env)
    argv = [sys.executable, "-m", "voting", "function", name, "--version", version]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log_dir / f"{name}-{version}.log", "ab") as log:
        process = subprocess.Popen(argv, env=clean, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{name} {version} did not start; see {log_dir}")
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("fuzz-logs")
    base = free_port_block(4, 15500, PORTS.stop)
    db = backends.mariadb
    mysql_env = {
        "MYSQL_HOST": "127.0.0.1",
        "MYSQL_PORT": str(db.port),
        "MYSQL_USER": db.user,
        "MYSQL_PASSWORD": db.password,
        "MYSQL_DATABASE": "fuzz",
        "LOG_LEVEL": "WARNING",
    }
    options = {"VOTE1VALUE": SQL_OPTION, "VOTE2VALUE": HTML_OPTION, "LOG_LEVEL": "WARNING"}
    processes = []
    try:
        processes.append(
            _start(
                "storage",
                "1.0",
                base,
                {"REDIS_URL": f"redis://127.0.0.1:{backends.redis.port}/1", "LOG_LEVEL": "WARNING"},
                logs,
            )
        )
        processes.append(_start("storage", "2.0", base + 1, mysql_env, logs))
        storage = f"http://127.0.0.1:{base + 1}"
        processes.append(
            _start("results", "2.0", base + 2, {**options, "STORAGE_URL": storage}, logs)
        )
        vote_env = {
            **options,
            "TITLE": "<b>Fuzz</b> & co",
            "SHOWDETAILS": "true",
            "FEATUREFLAG": "true",
            "ANALYTICS_URL": f"http://127.0.0.1:{base + 2}",
            "STORAGE_URL": storage,
        }
        processes.append(_start("vote", "2.0", base + 3, vote_env, logs))
        yield Stack(
            RawClient(base + 3),
            RawClient(base + 2),
            RawClient(base),
            RawClient(base + 1),
            processes,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ------------------------------------------------------------------ what every answer must be
def sound(answer: Answer) -> None:
    """No 5xx, no trace, nothing fuzzed echoed unescaped."""
    assert answer.status < 500, (answer.status, answer.text[:300])
    text = answer.text
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    assert MARK not in text, "a fuzzed value was echoed without HTML escaping"


# ------------------------------------------------------------------ strategies
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
fuzz_text = st.builds(lambda s: MARK + s + ">", st.text(max_size=60))
any_text = st.one_of(
    st.text(max_size=80),
    fuzz_text,
    st.sampled_from([SQL_OPTION, HTML_OPTION, "reset", "", " ", "Cats", "' OR 1=1 --", "%00"]),
)


def form(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode("utf-8", errors="surrogatepass")


content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded; charset=latin-1",
        "",
    ]
)


# ------------------------------------------------------------------ vote
@fuzz(CASES["vote_post"])
@given(
    vote=any_text,
    vote_id=st.one_of(st.none(), any_text, st.uuids().map(str)),
    extra=st.dictionaries(st.text(max_size=10), any_text, max_size=3),
    content_type=content_types,
    raw=st.one_of(st.none(), st.binary(max_size=200)),
)
def test_vote_post_never_fails_and_escapes_what_it_echoes(
    stack: Stack,
    vote: str,
    vote_id: str | None,
    extra: dict[str, str],
    content_type: str,
    raw: bytes | None,
) -> None:
    fields = {**extra, "vote": vote}
    if vote_id is not None:
        fields["vote_id"] = vote_id
    try:
        body = raw if raw is not None else form(fields)
    except UnicodeEncodeError:
        body = b"vote=%ff%fe"
    headers = {"Content-Type": content_type} if content_type else {}
    answer = stack.vote.request("POST", "/", headers, body)
    sound(answer)
    assert answer.status in (303, 400, 413, 415), answer.status


@fuzz(CASES["vote_get"])
@given(
    path=st.one_of(
        st.sampled_from(
            ["/", "/healthz", "/readyz", "/metrics", "/featureflag/set", "//", "/%2e%2e/"]
        ),
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
            lambda p: "/" + p
        ),
    ),
    cookie=header_text,
    request_id=header_text,
    method=st.sampled_from(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]),
)
def test_vote_get_any_path_header_or_method_is_never_a_5xx(
    stack: Stack, path: str, cookie: str, request_id: str, method: str
) -> None:
    answer = stack.vote.request(method, path, {"Cookie": cookie, "x-request-id": request_id})
    sound(answer)


@fuzz(CASES["featureflag"])
@given(
    which=st.sampled_from(["set", "clear", "on", ""]),
    cookie=header_text,
    body=st.binary(max_size=100),
)
def test_featureflag_endpoints_only_redirect_or_refuse(
    stack: Stack, which: str, cookie: str, body: bytes
) -> None:
    answer = stack.vote.request("POST", f"/featureflag/{which}", {"Cookie": cookie}, body)
    sound(answer)
    assert answer.status in (303, 404, 405), answer.status


def test_the_page_shows_the_sql_and_html_options_escaped(stack: Stack) -> None:
    page = stack.vote.request("GET", "/")
    assert page.status == 200
    assert "&lt;script&gt;" in page.text and HTML_OPTION not in page.text
    assert "<b>Fuzz</b>" not in page.text and "&lt;b&gt;Fuzz&lt;/b&gt; &amp; co" in page.text


def test_an_sql_injection_option_is_counted_and_shown_literally(stack: Stack) -> None:
    reset = form({"vote": "reset", "vote_id": str(uuid.uuid4())})
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    assert stack.vote.request("POST", "/", form_type, reset).status == 303
    for _ in range(2):
        body = form({"vote": SQL_OPTION, "vote_id": str(uuid.uuid4())})
        assert stack.vote.request("POST", "/", form_type, body).status == 303
    counts = json.loads(stack.storage_mysql.request("GET", "/counts").body)["counts"]
    assert counts == {SQL_OPTION: 2}  # the table is still there, the string is data
    page = stack.vote.request("GET", "/").text
    assert "Robert&#x27;); DROP TABLE vote_counts;--: 2/2 (100%)" in page


def test_a_vote_over_16_kib_is_refused_with_413(stack: Stack) -> None:
    body = b"vote=" + b"A" * (17 * 1024)
    answer = stack.vote.request(
        "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, body
    )
    assert answer.status == 413


# ------------------------------------------------------------------ storage
ce_types = st.one_of(
    st.sampled_from(
        ["com.azure.samples.voting.vote.cast", "com.azure.samples.voting.votes.reset", ""]
    ),
    header_text,
)


def storage_of(stack: Stack, store: str) -> RawClient:
    return stack.storage_redis if store == "redis" else stack.storage_mysql


@pytest.mark.parametrize("store", ["redis", "mysql"])
@fuzz(CASES["storage_events"])
@given(
    ce_id=st.one_of(header_text, st.uuids().map(str)),
    ce_type=ce_types,
    specversion=st.sampled_from(["1.0", "0.3", "", "1.0 "]),
    source=header_text,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/cloudevents+json"]
    ),
    body=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda o: json.dumps({"option": o}).encode(),
            st.one_of(st.text(max_size=80), st.integers(), st.none()),
        ),
        st.builds(
            lambda v: json.dumps(v).encode(),
            st.recursive(
                st.none() | st.booleans() | st.text(max_size=5),
                lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
                max_leaves=5,
            ),
        ),
    ),
    drop=st.sets(st.sampled_from(["ce-id", "ce-type", "ce-specversion", "ce-source"]), max_size=2),
)
def test_storage_refuses_every_malformed_event_with_a_4xx(
    stack: Stack,
    store: str,
    ce_id: str,
    ce_type: str,
    specversion: str,
    source: str,
    content_type: str,
    body: bytes,
    drop: set[str],
) -> None:
    headers = {
        "ce-id": ce_id,
        "ce-type": ce_type,
        "ce-specversion": specversion,
        "ce-source": source,
    }
    headers = {k: v for k, v in headers.items() if k not in drop}
    if content_type:
        headers["Content-Type"] = content_type
    answer = storage_of(stack, store).request("POST", "/votes", headers, body)
    sound(answer)
    assert answer.status in (200, 201, 400, 413, 415), answer.status


@pytest.mark.parametrize("store", ["redis", "mysql"])
@fuzz(CASES["storage_options"])
@example(option="Cats ")  # MySQL's PAD SPACE collation would count it as "Cats"
@example(option="\ud800")  # a lone surrogate cannot be stored as UTF-8
@example(option=SQL_OPTION)
@given(
    option=st.text(st.characters(exclude_categories=()), min_size=1, max_size=64).filter(
        lambda o: o.strip()
    )
)
def test_storage_stores_any_accepted_option_exactly_as_sent(
    stack: Stack, store: str, option: str
) -> None:
    headers = {
        "ce-id": str(uuid.uuid4()),
        "ce-type": "com.azure.samples.voting.vote.cast",
        "ce-specversion": "1.0",
        "ce-source": "/fuzz",
        "Content-Type": "application/json",
    }
    body = json.dumps({"option": option}).encode()
    answer = storage_of(stack, store).request("POST", "/votes", headers, body)
    sound(answer)
    if answer.status == 400:
        return  # refused as a whole (e.g. not encodable): fine, nothing stored
    assert answer.status == 201, (answer.status, answer.text)
    counts = json.loads(answer.body)["counts"]
    assert option in counts, f"{option!r} was not stored literally: {sorted(counts)[:5]}"


def test_storage_refuses_an_event_over_16_kib_with_413(stack: Stack) -> None:
    headers = {
        "ce-id": "big",
        "ce-type": "com.azure.samples.voting.vote.cast",
        "ce-specversion": "1.0",
        "ce-source": "/fuzz",
        "Content-Type": "application/json",
    }
    body = json.dumps({"option": "A" * 20_000}).encode()
    assert stack.storage_mysql.request("POST", "/votes", headers, body).status == 413


# ------------------------------------------------------------------ results
@fuzz(CASES["results"])
@given(
    path=st.sampled_from(
        ["/analytics", "/analytics/", "/counts", "/healthz", "/readyz", "/metrics"]
    ),
    query=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40),
    method=st.sampled_from(["GET", "POST", "HEAD", "DELETE"]),
    request_id=header_text,
)
def test_results_endpoints_are_never_a_5xx(
    stack: Stack, path: str, query: str, method: str, request_id: str
) -> None:
    target = path + ("?" + urllib.parse.quote(query, safe="=&") if query else "")
    answer = stack.results.request(method, target, {"x-request-id": request_id})
    sound(answer)


# ------------------------------------------------------------------ through the ingress
@fuzz(CASES["ingress"])
@given(
    method=st.sampled_from(["GET", "POST", "POST", "PUT"]),
    vote=any_text,
    cookie=st.one_of(header_text, st.just("featureflag=on")),
    path=st.sampled_from(["/", "/featureflag/set", "/featureflag/clear", "/nope", "/healthz"]),
)
def test_the_ingress_passes_on_no_5xx_for_bad_input(
    ingress: RawClient, method: str, vote: str, cookie: str, path: str
) -> None:
    body = form({"vote": vote}) if method != "GET" else None
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    answer = ingress.request(method, path, headers, body)
    sound(answer)


def test_the_ingress_refuses_a_body_over_16_kib_with_413(ingress: RawClient) -> None:
    body = b"vote=" + b"A" * (17 * 1024)
    answer = ingress.request(
        "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, body
    )
    assert answer.status == 413


@pytest.fixture(scope="module")
def ingress(mesh: Mesh) -> Iterator[RawClient]:
    """The ingress at step 4 (both stacks reachable, by cookie)."""
    mesh.system.step("canary")
    client = RawClient(mesh.system.port)
    yield client
    client.close()
