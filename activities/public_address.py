"""Outbound requests reach public addresses only: the guard against server-side request forgery.

A host is resolved at every attempt and the request goes to the address checked (the URL's name kept
in `Host` and TLS's server name), so a name that resolves elsewhere between the check and the connection
(DNS rebinding) cannot reach a loopback, private, link-local, multicast or otherwise non-public address.
Hosts named in OUTBOUND_ALLOWED_HOSTS (an on-premises CRM, a test's local server) are let through.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Collection
from dataclasses import dataclass

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of outbound requests, built once: building them reads the CA bundle, which took half of
    the worker's time in a webhook's POST (bench/webhooks.py). A context is shared safely by many connections."""
    return httpx.create_ssl_context(trust_env=False)


def outbound_client(read_seconds: float, connect_seconds: float) -> httpx.AsyncClient:
    """An HTTP client for one outbound request (a webhook, the SMS gateway): its own connection, no redirect
    followed, no proxy or certificate from the environment, the shared TLS context."""
    return httpx.AsyncClient(timeout=httpx.Timeout(read_seconds, connect=connect_seconds), verify=tls_context(),
                             follow_redirects=False, trust_env=False)


class AddressRefused(Exception):
    """The host resolves to an address outbound requests may not reach."""


class HostUnresolved(Exception):
    """The host name does not resolve (now: DNS may answer later)."""


def why_not_public(address: Address) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-public"


@dataclass(frozen=True)
class Pinned:
    """A request target resolved and checked: send to `url` (the address), with these headers and extensions."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]
    address: str


async def pin(url: str, allowed_hosts: Collection[str]) -> Pinned:
    """Resolve `url`'s host, refuse a non-public address unless the host is allowed, and aim at the address."""
    parsed = httpx.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = [literal] if (literal := _ip_literal(host)) is not None else await _resolve(host, port)
    if host.lower() not in {h.lower() for h in allowed_hosts}:
        for address in addresses:
            if (kind := why_not_public(address)) is not None:
                raise AddressRefused(f"host '{host}' resolves to {address}, a {kind} address: refused (name the "
                                     "host in OUTBOUND_ALLOWED_HOSTS to allow it)")
    address = addresses[0]
    headers = {"Host": parsed.netloc.decode("ascii")}
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return Pinned(url=parsed.copy_with(host=str(address)), headers=headers, extensions=extensions,
                  address=str(address))


def _ip_literal(host: str) -> Address | None:
    """The address a URL names itself (`127.0.0.1`, `[::1]`): nothing to resolve, no resolver thread to wait for."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostUnresolved(f"host '{host}' does not resolve: {exc.strerror}") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
