"""Kubernetes ``IP``, ``CIDR`` and ``URL`` CEL libraries (``k8s.io/apiserver/pkg/cel/library``).

IP: ``ip(s)``, ``isIP(s)``, ``ip.isCanonical(s)``, ``family()``, ``isUnspecified()``,
``isLoopback()``, ``isLinkLocalMulticast()``, ``isLinkLocalUnicast()``, ``isGlobalUnicast()``,
``string(ip)``. Like Kubernetes, IPv4 with leading zeros, IPv4-mapped IPv6 and zones are
rejected.
CIDR: ``cidr(s)``, ``isCIDR(s)``, ``containsIP(ip|s)``, ``containsCIDR(cidr|s)``, ``ip()``,
``masked()``, ``prefixLength()``, ``string(cidr)``.
URL: ``url(s)``, ``isURL(s)``, ``getScheme()``, ``getHost()``, ``getHostname()``, ``getPort()``,
``getEscapedPath()``, ``getQuery()`` (absolute URIs or absolute paths, as Go's
``url.ParseRequestURI`` accepts).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dra.cel.errors import EvalError, no_such_overload
from dra.cel.registry import FUNCTIONS, Overload, register
from dra.cel.typesys import BOOL, CIDR, INT, IP, STRING, URL, list_of, map_of


class IPValue:
    _cel_strict_equality = True  # Equal: same type or no such overload
    __slots__ = ("addr",)
    cel_type_name = IP

    def __init__(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        self.addr = addr

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IPValue) and other.addr == self.addr

    def __hash__(self) -> int:
        return hash(self.addr)

    def cel_string(self) -> str:
        return str(self.addr)


class CIDRValue:
    _cel_strict_equality = True  # Equal: same type or no such overload
    __slots__ = ("addr", "prefix")
    cel_type_name = CIDR

    def __init__(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int) -> None:
        self.addr, self.prefix = addr, prefix

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(f"{self.addr}/{self.prefix}", strict=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CIDRValue) and (other.addr, other.prefix) == (self.addr, self.prefix)

    def __hash__(self) -> int:
        return hash((self.addr, self.prefix))

    def cel_string(self) -> str:
        return f"{self.addr}/{self.prefix}"


class URLValue:
    _cel_strict_equality = True  # Equal: same type or no such overload
    __slots__ = ("text", "parts")
    cel_type_name = URL

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts = urlsplit(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URLValue) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _parse_addr(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in s:
        raise ValueError("IP address with zone value is not allowed")
    addr = ipaddress.ip_address(s)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise ValueError("IPv4-mapped IPv6 address is not allowed")
    return addr


def _s(x: Any, name: str) -> str:
    if type(x) is not str:
        raise no_such_overload(name, x)
    return x


def ip(s: Any) -> IPValue:
    text = _s(s, "ip")
    try:
        return IPValue(_parse_addr(text))
    except ValueError as ex:
        raise EvalError(f"IP Address {text!r} parse error during conversion from string: {ex}") from None


def is_ip(s: Any) -> bool:
    try:
        _parse_addr(_s(s, "isIP"))
    except ValueError:
        return False
    return True


def ip_is_canonical(s: Any) -> bool:
    text = _s(s, "ip.isCanonical")
    try:
        return str(_parse_addr(text)) == text
    except ValueError as ex:
        raise EvalError(f"IP Address {text!r} parse error during conversion from string: {ex}") from None


def _ip(x: Any, name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if type(x) is not IPValue:
        raise no_such_overload(name, x)
    return x.addr


def family(x: Any) -> int:
    return _ip(x, "family").version


def is_unspecified(x: Any) -> bool:
    return _ip(x, "isUnspecified").is_unspecified


def is_loopback(x: Any) -> bool:
    return _ip(x, "isLoopback").is_loopback


def is_link_local_multicast(x: Any) -> bool:
    addr = _ip(x, "isLinkLocalMulticast")
    net = ipaddress.ip_network("224.0.0.0/24") if addr.version == 4 else ipaddress.ip_network("ff02::/16")
    return addr in net


def is_link_local_unicast(x: Any) -> bool:
    return _ip(x, "isLinkLocalUnicast").is_link_local and not _ip(x, "isLinkLocalUnicast").is_multicast


def is_global_unicast(x: Any) -> bool:
    # Go's net.IP.IsGlobalUnicast: anything but unspecified, loopback, multicast, link-local
    # unicast and the IPv4 broadcast address (private ranges count as global unicast).
    addr = _ip(x, "isGlobalUnicast")
    if addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255"):
        return False
    return not (addr.is_unspecified or addr.is_loopback or addr.is_multicast or addr.is_link_local)


def cidr(s: Any) -> CIDRValue:
    text = _s(s, "cidr")
    try:
        return _parse_cidr(text)
    except ValueError as ex:
        raise EvalError(f"network address parse error during conversion from string: {ex}") from None


def _parse_cidr(text: str) -> CIDRValue:
    addr_text, sep, prefix_text = text.partition("/")
    if not sep or not prefix_text.isdigit() or (len(prefix_text) > 1 and prefix_text[0] == "0"):
        raise ValueError(f"invalid CIDR {text!r}")
    addr = _parse_addr(addr_text)
    prefix = int(prefix_text)
    if prefix > addr.max_prefixlen:
        raise ValueError(f"invalid CIDR {text!r}")
    return CIDRValue(addr, prefix)


def is_cidr(s: Any) -> bool:
    try:
        _parse_cidr(_s(s, "isCIDR"))
    except ValueError:
        return False
    return True


def _cidr(x: Any, name: str) -> CIDRValue:
    if type(x) is not CIDRValue:
        raise no_such_overload(name, x)
    return x


def contains_ip(c: Any, other: Any) -> bool:
    net = _cidr(c, "containsIP").network
    addr = ip(other).addr if type(other) is str else _ip(other, "containsIP")
    return addr.version == net.version and addr in net


def contains_cidr(c: Any, other: Any) -> bool:
    net = _cidr(c, "containsCIDR").network
    sub = cidr(other) if type(other) is str else _cidr(other, "containsCIDR")
    return sub.addr.version == net.version and sub.prefix >= net.prefixlen and sub.network.subnet_of(net)


def cidr_ip(c: Any) -> IPValue:
    return IPValue(_cidr(c, "ip").addr)


def masked(c: Any) -> CIDRValue:
    net = _cidr(c, "masked").network
    return CIDRValue(net.network_address, net.prefixlen)


def prefix_length(c: Any) -> int:
    return _cidr(c, "prefixLength").prefix


def url(s: Any) -> URLValue:
    text = _s(s, "url")
    if not _valid_url(text):
        raise EvalError(f"URL parse error during conversion from string: parse {text!r}: invalid URI for request")
    return URLValue(text)


def _valid_url(text: str) -> bool:
    if not text or any(c in text for c in " \t\n\r\x00"):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        return False
    if parts.scheme:
        return text[len(parts.scheme) + 1 :].startswith("/") or bool(parts.netloc) or ":" in text
    return text.startswith("/")


def is_url(s: Any) -> bool:
    return _valid_url(_s(s, "isURL"))


def _u(x: Any, name: str) -> URLValue:
    if type(x) is not URLValue:
        raise no_such_overload(name, x)
    return x


def get_scheme(u: Any) -> str:
    return _u(u, "getScheme").parts.scheme


def get_host(u: Any) -> str:
    return _u(u, "getHost").parts.netloc.rpartition("@")[2]


def get_hostname(u: Any) -> str:
    host = get_host(u)
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.partition(":")[0]


def get_port(u: Any) -> str:
    host = get_host(u)
    if host.startswith("["):
        rest = host[host.index("]") + 1 :] if "]" in host else ""
        return rest[1:] if rest.startswith(":") else ""
    return host.partition(":")[2]


def get_escaped_path(u: Any) -> str:
    return _u(u, "getEscapedPath").parts.path


def get_query(u: Any) -> dict[str, list[str]]:
    return {k: list(v) for k, v in parse_qs(_u(u, "getQuery").parts.query, keep_blank_values=True).items()}


register("ip", ip, ((STRING,), IP), member=False)
register("isIP", is_ip, ((STRING,), BOOL), member=False)
register("ip.isCanonical", ip_is_canonical, ((STRING,), BOOL), member=False)
register("family", family, ((IP,), INT), member=True)
register("isUnspecified", is_unspecified, ((IP,), BOOL), member=True)
register("isLoopback", is_loopback, ((IP,), BOOL), member=True)
register("isLinkLocalMulticast", is_link_local_multicast, ((IP,), BOOL), member=True)
register("isLinkLocalUnicast", is_link_local_unicast, ((IP,), BOOL), member=True)
register("isGlobalUnicast", is_global_unicast, ((IP,), BOOL), member=True)
register("cidr", cidr, ((STRING,), CIDR), member=False)
register("isCIDR", is_cidr, ((STRING,), BOOL), member=False)
register("containsIP", contains_ip, ((CIDR, IP), BOOL), ((CIDR, STRING), BOOL), member=True)
register("containsCIDR", contains_cidr, ((CIDR, CIDR), BOOL), ((CIDR, STRING), BOOL), member=True)
register("ip", cidr_ip, ((CIDR,), IP), member=True)
register("masked", masked, ((CIDR,), CIDR), member=True)
register("prefixLength", prefix_length, ((CIDR,), INT), member=True)
register("url", url, ((STRING,), URL), member=False)
register("isURL", is_url, ((STRING,), BOOL), member=False)
register("getScheme", get_scheme, ((URL,), STRING), member=True)
register("getHost", get_host, ((URL,), STRING), member=True)
register("getHostname", get_hostname, ((URL,), STRING), member=True)
register("getPort", get_port, ((URL,), STRING), member=True)
register("getEscapedPath", get_escaped_path, ((URL,), STRING), member=True)
register("getQuery", get_query, ((URL,), map_of(STRING, list_of(STRING))), member=True)

# string(ip) and string(cidr) extend the standard conversion.
_string = FUNCTIONS[("string", False, 1)]
_string.overloads += [Overload((IP,), STRING), Overload((CIDR,), STRING)]
