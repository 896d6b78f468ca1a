# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the DNS modules (documented in doc fragment _dns_connection),
and the checked settings built from them."""

from ansible_collections.continuity.mail.plugins.module_utils._dns.input import (
    TSIG_ALGORITHMS,
    InputError,
    parse_host,
    parse_server,
    parse_tsig,
)
from ansible_collections.continuity.mail.plugins.module_utils._dns.transport import Endpoint


def connection_spec():
    return dict(
        server=dict(type="str", required=True),
        port=dict(type="int", default=53),
        protocol=dict(type="str", default="tcp", choices=["tcp", "udp"]),
        key_name=dict(type="str"),
        key_secret=dict(type="str", no_log=True),
        key_algorithm=dict(type="str", default="hmac-sha256", choices=list(TSIG_ALGORITHMS)),
        timeout=dict(type="float", default=10.0),
    )


def wait_spec():
    return dict(
        wait=dict(type="bool", default=False),
        wait_servers=dict(type="list", elements="str", default=[]),
        wait_timeout=dict(type="float", default=60.0),
    )


class Settings:
    """Where and how to talk to the primary, and what to wait for."""

    def __init__(self, endpoint, protocol, timeout, key, wait, wait_servers, wait_timeout):
        self.endpoint = endpoint
        self.protocol = protocol
        self.timeout = timeout
        self.key = key
        self.wait = wait
        self.wait_servers = wait_servers
        self.wait_timeout = wait_timeout


def settings_from_params(params):
    """Settings from module parameters; raises InputError before any network I/O."""
    port = params.get("port", 53)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError("port must be from 1 to 65535, got %r" % (port,))
    for option in ("timeout", "wait_timeout"):
        if params.get(option) is not None and params[option] <= 0:
            raise InputError("%s must be greater than 0, got %r" % (option, params[option]))
    key = parse_tsig(
        params.get("key_name"), params.get("key_secret"), params.get("key_algorithm", "hmac-sha256")
    )
    wait_servers = []
    for index, text in enumerate(params.get("wait_servers") or []):
        endpoint = parse_server(text, "wait_servers[%d]" % index)
        if endpoint not in wait_servers:
            wait_servers.append(endpoint)
    return Settings(
        endpoint=Endpoint(parse_host(params["server"], "server"), port),
        protocol=params.get("protocol", "tcp"),
        timeout=float(params.get("timeout", 10.0)),
        key=key,
        wait=bool(params.get("wait")),
        wait_servers=wait_servers,
        wait_timeout=float(params.get("wait_timeout", 60.0)),
    )
