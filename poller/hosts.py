"""The one loopback check: where plain http is allowed (config's base URLs), where a CV link is
refused (unless the sandbox runs there), and which Host headers the status page answers."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str) -> bool:
    """True for localhost and *.localhost (RFC 6761 reserves them for loopback), 127.0.0.0/8
    and ::1 (also written as [::1] or ::ffff:127.x.y.z)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback
