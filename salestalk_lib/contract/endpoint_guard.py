"""Is an endpoint URL local? Decided positively: loopback, or a host the user named as local.

The real-AWS guard (contract §7) must not depend on recognising every spelling of
an AWS endpoint, because there is always one more (a trailing dot, a new partition,
a private DNS name for a VPC endpoint). So the question asked is the other one:

- an endpoint is **local** when its host is loopback (`127.0.0.0/8`, `::1`, an
  IPv4-mapped `::ffff:127.x.y.z`, or the name `localhost`) or a host listed in
  `SALESTALK_LOCAL_HOSTS` (`--local-host`), e.g. `localstack,dynamodb-local` for
  emulators in containers;
- **anything else** may be real AWS and needs the explicit opt-in
  (`--allow-aws` / `SALESTALK_ALLOW_AWS=1`) before a credential is read or a
  request is sent.

Recognising AWS (`AWS_DNS_SUFFIXES`: every partition's domain and dual-stack domain,
FIPS and account-based names included) only chooses the wording of the refusal.

The URL is parsed strictly and then rebuilt (`EndpointUrl.url`), and the rebuilt
URL is what the client is given, so no second parser can read a different host
out of the text than the one checked here. Refused outright: control characters,
spaces and non-ASCII anywhere (`urllib` silently drops tabs and newlines; IDNA
folds full-width letters into ASCII ones), a user name or password, a query or
fragment, percent-escapes in the host, a port outside 1-65535. Numeric hosts are
read as browsers and `inet_aton` read them (`127.1`, `0x7f000001`, `2130706433`,
`0177.0.0.1` are all 127.0.0.1), so their verdict is that of the address they reach.

Pure: no boto3, no DNS lookups, no sockets.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from salestalk_lib.contract.errors import ConfigurationError

LOCAL_HOSTS_ENV = "SALESTALK_LOCAL_HOSTS"
LOCAL_HOSTS_OPTION = "--local-host"
ALLOW_AWS_OPTION = "--allow-aws"

# Every AWS partition's DNS suffix and dual-stack suffix, as botocore's partitions.json
# lists them (tests/adversarial/test_aws_guard.py fails when botocore knows one more).
# DynamoDB's endpoints under each: dynamodb.{region}.{suffix}, dynamodb-fips.{region}.{suffix},
# {account}.ddb.{region}.{suffix}, and VPC endpoint names, all of them under the suffix.
AWS_DNS_SUFFIXES: tuple[str, ...] = (
    "amazonaws.com",
    "api.aws",  # aws, aws-us-gov
    "amazonaws.com.cn",
    "api.amazonwebservices.com.cn",  # aws-cn
    "amazonaws.eu",
    "api.amazonwebservices.eu",  # aws-eusc
    "c2s.ic.gov",
    "api.aws.ic.gov",  # aws-iso
    "sc2s.sgov.gov",
    "api.aws.scloud",  # aws-iso-b
    "cloud.adc-e.uk",
    "api.cloud-aws.adc-e.uk",  # aws-iso-e
    "csp.hci.ic.gov",
    "api.aws.hci.ic.gov",  # aws-iso-f
)

LOOPBACK_NAMES = frozenset({"localhost"})
"""Names that are loopback by definition (RFC 6761). Not `*.localhost`: resolvers differ on it."""

_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_DECIMAL_RE = re.compile(r"^[0-9]+$")
_HEX_RE = re.compile(r"^0[xX][0-9a-fA-F]*$")
_OCTAL_RE = re.compile(r"^0[0-7]+$")
_PORT_RE = re.compile(r"^[0-9]{1,5}$")


@dataclass(frozen=True)
class EndpointUrl:
    """An endpoint URL, parsed strictly: scheme, canonical host, port and path."""

    scheme: str
    host: str
    """Lowercase, without a trailing dot; an IPv4 address in dotted-quad form; IPv6 without brackets."""
    port: int | None
    path: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    """The IP address when the host is one (numeric spellings already read), else None."""
    userinfo: bool = False
    """The text carried a user name or password (always refused; kept so the refusal can say so)."""

    @property
    def url(self) -> str:
        """The URL rebuilt from the parsed parts: what the client is given."""
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


def parse_endpoint_url(url: object, source: str = "explicit") -> EndpointUrl:
    """Parse `url` strictly (see the module docstring); ConfigurationError names what is wrong."""
    where = f"endpoint URL {url!r} ({source})"
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{where} must be a non-empty string like http://127.0.0.1:8000")
    bad = next((c for c in url if not (0x21 <= ord(c) <= 0x7E) or c == "\\"), None)
    if bad is not None:
        raise ConfigurationError(
            f"{where} contains {bad!r}: only printable ASCII without spaces or "
            "backslashes is accepted (write a non-ASCII host in punycode)"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigurationError(f"{where} does not parse: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{where} must look like http://host:port")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigurationError(f"{where} must not carry a query or fragment: scheme://host[:port][/path]")
    netloc = parts.netloc
    _userinfo, at, hostport = netloc.rpartition("@")
    host_text, port = _split_port(hostport, where)
    endpoint = _host(host_text, where)
    return EndpointUrl(parts.scheme, endpoint[0], port, parts.path, endpoint[1], userinfo=bool(at))


def _split_port(hostport: str, where: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, close, rest = hostport.partition("]")
        if not close:
            raise ConfigurationError(f"{where}: an IPv6 host needs its closing ']'")
        host += "]"
    elif hostport.count(":") > 1:
        raise ConfigurationError(f"{where}: write an IPv6 host in brackets ([::1]) and at most one port")
    else:
        host, colon, port_text = hostport.partition(":")
        rest = colon + port_text
    if not rest:
        return host, None
    digits = rest[1:] if rest.startswith(":") else None
    if digits is None or not _PORT_RE.fullmatch(digits) or not 1 <= int(digits) <= 65535:
        raise ConfigurationError(f"{where}: the port must be a number from 1 to 65535")
    return host, int(digits)


def _host(text: str, where: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """(canonical host, address or None) of a URL's host part, brackets included for IPv6."""
    if text.startswith("[") and text.endswith("]"):
        return _ipv6(text[1:-1], where)
    host = text.lower()
    if host.endswith("."):
        host = host[:-1]  # the absolute form of the same name: `localhost.` is `localhost`
    if not host:
        raise ConfigurationError(f"{where} has no host")
    labels = host.split(".")
    if _looks_numeric(labels[-1]):
        address = _ipv4(labels, where)
        return str(address), address
    if len(host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise ConfigurationError(
            f"{where}: host {text!r} is not a valid host name (letters, digits, '-' and '_' in dot-separated labels)"
        )
    return host, None


def _ipv6(text: str, where: str) -> tuple[str, ipaddress.IPv6Address]:
    if "%" in text:
        raise ConfigurationError(f"{where}: an IPv6 zone id (%...) is not accepted")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise ConfigurationError(f"{where}: [{text}] is not an IPv6 address") from None
    return address.compressed, address


def _looks_numeric(label: str) -> bool:
    """A last label of digits or 0x-hex makes the whole host an IPv4 address (as browsers read it)."""
    return bool(_DECIMAL_RE.fullmatch(label) or _HEX_RE.fullmatch(label))


def _ipv4(labels: list[str], where: str) -> ipaddress.IPv4Address:
    """The IPv4 address of a numeric host in any form inet_aton accepts (decimal, octal, hex, 1-4 parts)."""

    def refuse() -> ConfigurationError:
        return ConfigurationError(f"{where}: host {'.'.join(labels)!r} is not a valid IPv4 address")

    if len(labels) > 4:
        raise refuse()
    numbers = []
    for label in labels:
        if _HEX_RE.fullmatch(label):
            numbers.append(int(label[2:] or "0", 16))
        elif _OCTAL_RE.fullmatch(label):
            numbers.append(int(label[1:], 8))
        elif _DECIMAL_RE.fullmatch(label) and not (len(label) > 1 and label[0] == "0"):
            numbers.append(int(label))
        else:
            raise refuse()  # empty labels, letters, or 08/09 (not octal, not decimal)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        raise refuse()
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def parse_local_hosts(entries: str | Iterable[str] | None) -> tuple[str, ...]:
    """The canonical hosts of a `SALESTALK_LOCAL_HOSTS` value (comma-separated) or of a list of hosts.

    Each entry is a bare host: a name (`localstack`), an IPv4 or an IPv6 address.
    No scheme, port, path or wildcard, and never an AWS domain: a host declared local
    is signed with dummy credentials and needs no opt-in, so it must be named exactly.
    """
    if entries is None:
        return ()
    raw = entries.split(",") if isinstance(entries, str) else list(entries)
    hosts: list[str] = []
    for entry in raw:
        if not isinstance(entry, str):
            raise ConfigurationError(f"{LOCAL_HOSTS_ENV}: each local host must be a string, got {entry!r}")
        text = entry.strip()
        if not text:
            continue
        where = f"{LOCAL_HOSTS_ENV} entry {text!r}"
        if any(c in text for c in "/@*?") or text.count(":") == 1:
            raise ConfigurationError(
                f"{where}: give a bare host name or address (no scheme, port, path or wildcard), e.g. localstack"
            )
        if ":" in text and not text.startswith("["):
            text = f"[{text}]"
        bad = next((c for c in text if not (0x21 <= ord(c) <= 0x7E)), None)
        if bad is not None:
            raise ConfigurationError(f"{where} contains {bad!r}")
        host, _ = _host(text, where)
        if aws_domain(host) is not None:
            raise ConfigurationError(
                f"{where} is an AWS endpoint ({aws_domain(host)}); real AWS is reached "
                f"with {ALLOW_AWS_OPTION}, never declared local"
            )
        hosts.append(host)
    return tuple(sorted(set(hosts)))


def aws_domain(host: str) -> str | None:
    """The AWS DNS suffix `host` (canonical) is under, or None. Only for the refusal's wording."""
    for suffix in sorted(AWS_DNS_SUFFIXES, key=len, reverse=True):
        if host == suffix or host.endswith("." + suffix):
            return suffix
    return None


def is_loopback(endpoint: EndpointUrl) -> bool:
    """127.0.0.0/8, ::1, ::ffff:127.x.y.z, or the name localhost."""
    address = endpoint.address
    if address is None:
        return endpoint.host in LOOPBACK_NAMES
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass(frozen=True)
class Verdict:
    """What the guard decided about one endpoint URL, and why."""

    endpoint: EndpointUrl
    local: bool
    reason: str
    """`loopback`, `listed in SALESTALK_LOCAL_HOSTS`, `AWS (<suffix>)` or `not local`."""
    aws: str | None = None
    """The AWS DNS suffix the host is under, when it is one."""


def classify(endpoint: EndpointUrl, local_hosts: Iterable[str] = ()) -> Verdict:
    """Local (loopback or configured) or not; `local_hosts` are canonical (see `parse_local_hosts`)."""
    aws = None if endpoint.address is not None else aws_domain(endpoint.host)
    if is_loopback(endpoint):
        return Verdict(endpoint, True, "loopback")
    if aws is None and endpoint.host in set(local_hosts):
        return Verdict(endpoint, True, f"listed in {LOCAL_HOSTS_ENV}")
    if aws is not None:
        return Verdict(endpoint, False, f"AWS ({aws})", aws)
    return Verdict(endpoint, False, "not local")


def refusal(verdict: Verdict, url: str, source: str, allow_env: str) -> str:
    """The one-line refusal for a non-local endpoint without the opt-in: names the opt-in and the setting."""
    opt_in = f"pass {ALLOW_AWS_OPTION} or set {allow_env}=1 to opt in"
    if verdict.aws is not None:
        return f"endpoint {url} ({source}) is real AWS (a host under {verdict.aws}); {opt_in}"
    return (
        f"endpoint {url} ({source}) is not local: its host {verdict.endpoint.host!r} is neither loopback "
        f"(127.0.0.0/8, ::1, localhost) nor listed in {LOCAL_HOSTS_ENV}. If it is an emulator, list it "
        f"({LOCAL_HOSTS_ENV}={verdict.endpoint.host} or {LOCAL_HOSTS_OPTION} {verdict.endpoint.host}); "
        f"if it is real AWS, {opt_in}"
    )
