# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import asyncio
import urllib.error

import pytest

import health_certs
from ansible_collections.continuity.mail.plugins.module_utils._monitor import peers
from monitor_fakes import verdict


@pytest.fixture
def server(tmp_path):
    ca = health_certs.make_ca()
    key, cert = health_certs.make_leaf(ca, ["localhost", "127.0.0.1"])
    cert_path, key_path = health_certs.write_pair(tmp_path, "monitor", key, cert)
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(health_certs.pem_cert(ca[1]))
    serving = peers.VerdictServer("127.0.0.1", 0, "s3cret", cert_path, key_path)
    serving.start()
    serving.ca_path = str(ca_path)
    yield serving
    serving.stop()


def peer(server, path="/verdict"):
    return {
        "name": "b",
        "url": "https://localhost:%d%s" % (server.port, path),
        "ca_path": server.ca_path,
    }


def test_verdict_served_over_https_with_the_token(server):
    server.publish(verdict("b", 1000.0, **{"mx1 smtp": (False, 3)}))
    doc = peers.fetch(peer(server), "s3cret", 2.0)
    assert doc["monitor"] == "b" and doc["targets"]["mx1 smtp"]["fails"] == 3


def test_wrong_token_or_path_is_refused(server):
    server.publish(verdict("b", 1000.0))
    with pytest.raises(urllib.error.HTTPError, match="401"):
        peers.fetch(peer(server), "guess", 2.0)
    with pytest.raises(urllib.error.HTTPError, match="404"):
        peers.fetch(peer(server, "/other"), "s3cret", 2.0)


def test_an_untrusted_certificate_is_refused(server):
    untrusted = dict(peer(server), ca_path=None)
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        peers.fetch(untrusted, "s3cret", 2.0)


def test_server_needs_a_token():
    with pytest.raises(ValueError, match="token"):
        peers.VerdictServer("127.0.0.1", 0, "")


def test_pull_reads_every_peer_and_names_each_failure():
    async def fetcher(peer, token, timeout):
        if peer["name"] == "slow":
            await asyncio.sleep(5)
        if peer["name"] == "broken":
            raise ConnectionRefusedError("refused")
        return verdict(peer["name"], 1.0)

    targets = [{"name": n, "url": "x"} for n in ("good", "slow", "broken")]
    loop = asyncio.new_event_loop()
    try:
        answers = loop.run_until_complete(peers.pull(targets, "t", 0.05, fetcher))
    finally:
        loop.close()
    assert answers["good"]["monitor"] == "good"
    assert answers["slow"] == "no answer within 0.05 s"
    assert answers["broken"] == "ConnectionRefusedError: refused"


def test_the_default_address_serves_ipv4_peers_too():
    serving = peers.VerdictServer("::", 0, "s3cret")
    serving.start()
    try:
        serving.publish(verdict("b", 1000.0))
        url = "http://127.0.0.1:%d/verdict" % serving.port
        assert peers.fetch({"name": "b", "url": url}, "s3cret", 2.0)["monitor"] == "b"
    finally:
        serving.stop()
