"""Which destinations an outbound webhook may reach (SSRF defence).

Two checks, both here so the form and the sender can never disagree:
- `destination_url_check()` — the URL's shape: http(s), a host, no userinfo, no fragments,
  no characters that parsers read differently.
- `destination_resolve()` — resolve the host ONCE and refuse if ANY address is not public.
  The sender then connects to the address returned (pinned), so a second DNS answer
  (rebinding) is never used.

We classify resolved addresses, never the URL text: glibc accepts `2130706433`, `0x7f.1`
and `017700000001` for 127.0.0.1, which `ipaddress` cannot parse.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class DestinationRefused(Exception):
    """The URL or the address it resolves to is not allowed. Never retried."""

    retryable = False


class DestinationUnresolvable(DestinationRefused):
    """DNS gave no answer: may be temporary, so a delivery retries it."""

    retryable = True


# Cloud metadata and credential services: never a webhook destination, even when private
# destinations are allowed for local testing (checked also in their IPv6-wrapped forms).
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "169.254.0.0/16",  # link-local: AWS/GCP/Azure IMDS 169.254.169.254, ECS 169.254.170.2
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure WireServer (a public-looking address)
        "255.255.255.255/32",  # limited broadcast
        "fd00:ec2::254/128",  # AWS IMDS over IPv6
        "fe80::/10",  # IPv6 link-local
    )
)

# Ranges `is_global` misses or gets wrong across Python versions (CPython gh-113171).
BLOCKED_NETWORKS = METADATA_NETWORKS + tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT (Alibaba metadata 100.100.100.200 lives here)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast: is_global says True
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated) ::a.b.c.d
        "::ffff:0:0/96",
        "64:ff9b::/96",  # NAT64
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",  # Teredo and IETF special purpose
        "2001:db8::/32",
        "2002::/16",  # 6to4
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",  # unique local
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

# Addresses private destinations may still never reach, even in development.
ALWAYS_BLOCKED = METADATA_NETWORKS


def _embedded_ipv4(address):
    """The IPv4 address carried inside an IPv6 one (mapped, compatible, NAT64, 6to4), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    packed = address.packed
    if address in ipaddress.ip_network("64:ff9b::/96") or address in ipaddress.ip_network("::/96"):
        return ipaddress.IPv4Address(packed[-4:])
    return None


def address_is_public(address):
    """True only for a globally routable unicast address, after unwrapping IPv4 forms."""
    address = ipaddress.ip_address(address)
    if address.version == 6 and address.scope_id:
        return False
    embedded = _embedded_ipv4(address)
    if embedded is not None and not address_is_public(embedded):
        return False
    if any(address in network for network in BLOCKED_NETWORKS):
        return False
    return address.is_global and not address.is_multicast


def _address_allowed(address, allow_private):
    address = ipaddress.ip_address(address)
    for candidate in filter(None, (address, _embedded_ipv4(address))):
        if any(candidate in network for network in ALWAYS_BLOCKED):
            return False
    if allow_private:
        return not address.is_multicast and not address.is_unspecified
    return address_is_public(address)


def destination_url_check(url):
    """Return (scheme, host, port) or raise DestinationRefused naming the problem."""
    if not url or any(char.isspace() or char == "\\" for char in url):
        raise DestinationRefused("The URL must not contain spaces or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"The URL is malformed ({exc}).") from None
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("Only http:// and https:// destinations are allowed.")
    if "@" in parts.netloc or parts.username or parts.password:
        raise DestinationRefused("Credentials in the URL (user@host) are not allowed.")
    if parts.fragment or "#" in url:
        raise DestinationRefused("The URL must not contain a fragment (#).")
    host = parts.hostname
    if not host:
        raise DestinationRefused("The URL needs a host name.")
    if not host.isascii() or len(host) > 253:
        raise DestinationRefused("The host name must be plain ASCII (use the punycode form).")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def resolve_addresses(host, port):
    """Every address the system resolver gives for host (tests replace this with a stub)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


def _literal_address(host):
    """[host] when it is an address in standard notation: classified without a lookup, so a
    literal is refused even while DNS is down (other spellings go to the resolver)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return None


def destination_resolve(host, port, *, allow_private=None):
    """Resolve once; return the one address to connect to, or raise DestinationRefused."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS
    try:
        addresses = _literal_address(host) or resolve_addresses(host.strip("[]"), port)
    except (OSError, UnicodeError) as exc:
        raise DestinationUnresolvable(f"The host {host!r} could not be resolved ({exc}).") from None
    if not addresses:
        raise DestinationUnresolvable(f"The host {host!r} has no address.")
    refused = [address for address in addresses if not _address_allowed(address, allow_private)]
    if refused:
        raise DestinationRefused(
            f"The host {host!r} resolves to {refused[0]}, which is not a public address."
        )
    return addresses[0]


def destination_check(url, *, allow_private=None):
    """The whole check the form and every attempt make; returns the pinned address."""
    _scheme, host, port = destination_url_check(url)
    return destination_resolve(host, port, allow_private=allow_private)
