# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every continuity.mail DNS module shares: the primary server, TSIG, waiting."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  server:
    description:
      - The primary authoritative server that accepts RFC 2136 updates, as an IP address or a
        host name.
      - Planning reads go to this server too (plain queries; one TSIG-signed query checks
        O(key_name) before anything is changed, also in check mode).
    type: str
    required: true
  port:
    description:
      - Port of O(server).
    type: int
    default: 53
  protocol:
    description:
      - Transport for every message to O(server) and to the servers waited for.
      - V(tcp) pipelines all messages of a run over one connection per server (RFC 7766).
        V(udp) sends datagrams; queries are re-sent on loss, updates never (a lost answer to
        an update is reported as unknown, never silently repeated).
    type: str
    choices:
      - tcp
      - udp
    default: tcp
  key_name:
    description:
      - Name of the TSIG key that signs the updates. Give it together with O(key_secret), or
        neither (unsigned updates, for servers that authorize by address).
    type: str
  key_secret:
    description:
      - Base64 secret of the TSIG key O(key_name).
    type: str
  key_algorithm:
    description:
      - TSIG algorithm of O(key_name).
    type: str
    choices:
      - hmac-md5
      - hmac-sha1
      - hmac-sha224
      - hmac-sha256
      - hmac-sha256-128
      - hmac-sha384
      - hmac-sha384-192
      - hmac-sha512
      - hmac-sha512-256
    default: hmac-sha256
  timeout:
    description:
      - Seconds to wait for any answer from a server before the request counts as timed out.
    type: float
    default: 10
requirements:
  - dnspython >= 2.0 on the node that runs the module (normally the control node)
notes:
  - Names are absolute, a trailing dot is optional; they are never taken relative to a zone.
  - Errors name the server and the DNS response code or TSIG error, for example
    C(REFUSED), C(NOTAUTH), C(BADKEY), C(BADSIG), C(TIMEOUT).
"""

    WAIT = r"""
options:
  wait:
    description:
      - After the change, poll every authoritative server of each zone until it serves the
        new values and an SOA serial at least as new as the primary's after the change.
      - The servers are the zone's NS set (names resolved through O(server) first, then the
        system resolver; port 53) plus O(wait_servers). NS names that resolve nowhere are
        skipped with a warning.
      - Also verifies an unchanged run, so running the same task again confirms that every
        server is in sync.
      - BIND sends NOTIFY for a zone at most every C(notify-delay) seconds (5 by default), so
        a change made within seconds of the previous one can take that long to reach BIND
        secondaries; O(wait_timeout) should allow for it.
      - Ignored in check mode.
    type: bool
    default: false
  wait_servers:
    description:
      - More servers to wait for, as V(host), V(host:port), an IPv6 address or V([v6]:port).
      - Useful for hidden secondaries and when the NS names resolve only inside the zone.
    type: list
    elements: str
    default: []
  wait_timeout:
    description:
      - Seconds to wait for all servers. On timeout the module fails with
        C(Timeout (k of n servers in sync)) and names each laggard with the serial and the
        values it serves.
    type: float
    default: 60
"""
