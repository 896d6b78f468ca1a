# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One authoritative server that cannot be read never makes a site look failed over: the
flow names it and changes nothing."""

from dnslab import backends, start_named, stop_named
from flows_lab import playbook
from labtools import wait_until

LOCK = "_continuity-lock.example.test."


def test_failback_on_a_normal_site_with_one_dns_server_down_changes_nothing(lab):
    bind = backends()["bind"]
    assert all(bind.is_restored(server) for server in bind.servers), "the lab is not normal"
    stop_named(lab, "ns2")
    try:
        run = playbook("playbooks/failback.yml", timeout=600)
    finally:
        start_named(lab, "ns2")
    assert run.rc != 0, run.describe()
    message = " ".join(run.messages())
    assert lab.ip("ns2") in message and "nothing was changed" in message, message
    assert run.changed("mx1") == 0 and run.changed("mx2") == 0
    assert bind.query(bind.primary, LOCK, "TXT") == []
    wait_until(lambda: all(bind.is_restored(s) for s in bind.servers), timeout=30, what="ns2 back")
