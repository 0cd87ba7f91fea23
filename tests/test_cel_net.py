"""Kubernetes IP, CIDR and URL CEL libraries."""

from __future__ import annotations

from typing import Any

import pytest

from dra.cel import CelRuntimeError
from dra.cel.selector import evaluate_expression

CASES = [
    ('ip("127.0.0.1").isLoopback()', True), ('ip("10.0.0.1").isGlobalUnicast()', True),
    ('ip("fe80::1").isLinkLocalUnicast()', True), ('ip("224.0.0.1").isLinkLocalMulticast()', True),
    ('ip("0.0.0.0").isUnspecified()', True), ('ip("::1").family()', 6), ('ip("1.2.3.4").family()', 4),
    ('isIP("fe80::1%eth0")', False), ('isIP("01.2.3.4")', False), ('isIP("::ffff:1.2.3.4")', False),
    ('ip.isCanonical("2001:DB8::1")', False), ('ip.isCanonical("2001:db8::1")', True),
    ('string(ip("2001:db8::1"))', "2001:db8::1"), ('ip("1.2.3.4") == ip("1.2.3.4")', True),
    ('cidr("10.0.0.0/8").containsIP("10.1.2.3")', True), ('cidr("10.0.0.0/8").containsIP(ip("11.0.0.1"))', False),
    ('cidr("10.0.0.0/8").containsCIDR("10.1.0.0/16")', True), ('cidr("10.0.0.0/16").containsCIDR(cidr("10.0.0.0/8"))', False),
    ('cidr("10.1.2.3/8").masked() == cidr("10.0.0.0/8")', True), ('cidr("10.1.2.3/8").ip() == ip("10.1.2.3")', True),
    ('cidr("10.0.0.0/8").prefixLength()', 8), ('string(cidr("10.0.0.0/8"))', "10.0.0.0/8"),
    ('isCIDR("10.0.0.0/33")', False), ('isCIDR("::/0")', True),
    ('url("https://user@example.com:8080/a%20b?x=1").getHost()', "example.com:8080"),
    ('url("https://example.com:8080/path").getHostname()', "example.com"),
    ('url("https://[::1]:80/").getHostname()', "::1"), ('url("https://[::1]:80/").getPort()', "80"),
    ('url("https://example.com/a%20b").getEscapedPath()', "/a%20b"), ('url("https://example.com").getScheme()', "https"),
    ('url("https://example.com/?x=1&x=2&y=").getQuery() == {"x": ["1", "2"], "y": [""]}', True),
    ('isURL("not a url")', False), ('isURL("/absolute/path")', True),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_net_functions(expr: str, expected: Any) -> None:
    result = evaluate_expression(expr)
    assert type(result) is type(expected) and result == expected


@pytest.mark.parametrize("expr", ['ip("01.2.3.4")', 'ip("::ffff:1.2.3.4")', 'cidr("10.0.0.0")', 'url("no")'])
def test_net_parse_errors(expr: str) -> None:
    with pytest.raises(CelRuntimeError, match="parse error"):
        evaluate_expression(expr)
