"""Hostile code: SSRF, request option abuse and response floods through ctx.http."""

from __future__ import annotations

import pytest

from chronoflow.sandbox import FunctionLimits, RunStatus, SandboxRunner

from .conftest import make_policy


def refused(result, fragment: str) -> None:
    """The request was refused with an error naming ``fragment``."""
    assert result.status is RunStatus.FAILED, result
    assert fragment in result.error, result.error


def get(url: str, extra: str = "") -> str:
    return f"def run(ctx):\n    return ctx.http.get({url!r}{extra}).text\n"


def test_redirect_to_loopback(run, base_url, loopback_url, http_server):
    """It denies an allowlisted host redirecting to 127.0.0.1 (checked on every hop)."""
    before = len(http_server.seen)
    result = run(get(f"{base_url}/redirect?to={loopback_url}/secret"))
    refused(result, "non-public address")
    assert [r["path"] for r in http_server.seen[before:]] == ["/redirect"]


def test_redirect_to_metadata(run, base_url):
    """It denies a redirect to 169.254.169.254, even though that host is allowlisted."""
    refused(run(get(f"{base_url}/redirect?to=http://169.254.169.254/latest/meta-data/")), "non-public address")


def test_redirect_to_unlisted_host(run, base_url):
    """It denies a redirect to a host off the allowlist."""
    refused(run(get(f"{base_url}/redirect?to=http://metadata.google.internal/")), "not on the allowlist")


def test_redirect_to_file_scheme(run, base_url):
    """It denies a redirect to file:///etc/passwd."""
    refused(run(get(f"{base_url}/redirect?to=file:///etc/passwd")), "http and https")


def test_direct_loopback_ip(run, loopback_url):
    """It denies 127.0.0.1 when the operator did not list it as private."""
    refused(run(get(f"{loopback_url}/secret")), "non-public address")


def test_direct_metadata_ip(run):
    """It denies 169.254.169.254 directly."""
    refused(run(get("http://169.254.169.254/latest/meta-data/")), "non-public address")


def test_host_resolving_to_loopback():
    """It denies an allowlisted host that resolves to loopback when it is not a private host."""
    with SandboxRunner(make_policy(private_hosts=())) as strict:
        result = strict.run(get("http://localhost:9/"), extras={}, state={})
    refused(result, "non-public address")


def test_unlisted_host(run):
    """It denies hosts off the allowlist, before any network use."""
    refused(run(get("https://example.com/")), "not on the allowlist")


def test_wildcard_suffix_tricks(run):
    """It denies look-alike hosts of a *.domain entry."""
    refused(run(get("http://evilallowed.test/")), "not on the allowlist")
    refused(run(get("http://allowed.test.evil.com/")), "not on the allowlist")


def test_decimal_ip(run):
    """It denies 2130706433 (127.0.0.1 in decimal)."""
    refused(run(get("http://2130706433/")), "not on the allowlist")


def test_ipv6_loopback(run):
    """It denies [::1]."""
    refused(run(get("http://[::1]/")), "not on the allowlist")


def test_userinfo(run, base_url):
    """It denies URLs with user information (localhost@evil.com)."""
    refused(run(get("http://localhost@evil.com/")), "user information")


def test_backslash_confusion(run):
    """It denies backslashes that parsers disagree on."""
    refused(run(get("http://evil.com\\@localhost/")), "backslash")


def test_control_characters(run, base_url):
    """It denies CR/LF in URLs (request splitting)."""
    refused(run(get(f"{base_url}/json\r\nX-Injected: 1")), "control characters")


@pytest.mark.parametrize("scheme", ["file:///etc/passwd", "ftp://localhost/", "gopher://localhost:70/"])
def test_other_schemes(run, scheme):
    """It denies schemes other than http and https."""
    refused(run(get(scheme)), "http and https")


@pytest.mark.parametrize("option", ["proxy='http://evil.com'", "verify=False", "base_url='http://x'",
                                    "follow_redirects=True", "auth=('a', 'b')"])
def test_forbidden_request_options(run, base_url, option):
    """It denies request options outside the fixed set."""
    refused(run(get(f"{base_url}/json", f", {option}")), "unsupported request option")


def test_host_header_override(run, base_url):
    """It denies setting the Host header."""
    refused(run(get(f"{base_url}/json", ", headers={'Host': 'internal'}")), "may not be set")


def test_header_injection(run, base_url):
    """It denies CR/LF inside header values."""
    refused(run(get(f"{base_url}/json", ", headers={'X-A': 'a\\r\\nHost: evil'}")), "invalid value")


def test_unbounded_timeout(run, base_url):
    """It denies an unbounded or huge request timeout."""
    refused(run(get(f"{base_url}/json", ", timeout=10 ** 9")), "timeout")
    refused(run(get(f"{base_url}/json", ", timeout=float('inf')")), "Infinity")


def test_str_subclass_url(run, base_url):
    """It denies a str subclass as URL: arguments are checked by exact type."""
    code = (
        "class U(str):\n"
        "    def startswith(self, prefix):\n"
        "        return True\n"
        f"def run(ctx):\n    return ctx.http.get(U('{base_url}/json')).text\n"
    )
    refused(run(code), "TypeError")


def test_response_too_large(run, base_url):
    """It denies response bodies over maxResponseBytes."""
    result = run(get(f"{base_url}/big?n=200000"), limits=FunctionLimits(max_response_bytes=10_000))
    refused(result, "exceeds")


def test_max_http(run, base_url):
    """It denies more requests than maxHttp per run."""
    code = f"def run(ctx):\n    for i in range(5):\n        ctx.http.get('{base_url}/json')\n"
    result = run(code, limits=FunctionLimits(max_http=3))
    refused(result, "maxHttp")
    assert result.http_count == 3


def test_rate_limit():
    """It denies more calls per second than the operator's rate limit allows."""
    with SandboxRunner(make_policy(rate_limit_per_second=2)) as limited:
        code = "def run(ctx):\n    for i in range(10):\n        ctx.http.get('http://localhost:9/')\n"
        result = limited.run(code, extras={}, state={}, limits=FunctionLimits(timeout_ms=800))
    assert result.status in (RunStatus.FAILED, RunStatus.TIMEOUT)
    assert result.http_count <= 2
