# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import http.server
import json
import threading

import pytest

from ansible_collections.continuity.mail.plugins.module_utils._mail import canary
from ansible_collections.continuity.mail.plugins.module_utils._monitor import notify


@pytest.fixture
def receiver():
    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers.get("Authorization"), json.loads(body)))
            self.send_response(200 if self.path == "/ok" else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1], got
    server.shutdown()
    server.server_close()


def test_webhook_posts_json_with_the_token(receiver):
    base, got = receiver
    assert notify.post_json(base + "/ok", {"version": "4"}, token="t0k") == 200
    assert got == [("Bearer t0k", {"version": "4"})]
    with pytest.raises(notify.DeliveryError, match=r"webhook .*/fail: HTTP Error 500"):
        notify.post_json(base + "/fail", {"version": "4"})


def test_email_goes_to_the_relay(monkeypatch):
    sent = []

    def send(message, host, port, **kwargs):
        sent.append((message, host, port, kwargs))
        return {"response": "250 ok"}

    monkeypatch.setattr(canary, "send", send)
    relay = {"host": "relay.example.com", "port": 587, "from": "monitor@example.com"}
    notify.send_email(relay, "oncall@example.com", "[continuity] down", "body\n")
    ((message, host, port, kwargs),) = sent
    assert (host, port) == ("relay.example.com", 587) and kwargs["starttls"] == "auto"
    assert message["To"] == "oncall@example.com" and message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == "[continuity] down" and message.get_content() == "body\n"


def test_email_failure_names_the_relay(monkeypatch):
    def send(*args, **kwargs):
        raise canary.CanaryError("connection refused")

    monkeypatch.setattr(canary, "send", send)
    relay = {"host": "relay", "from": "m@example.com"}
    with pytest.raises(notify.DeliveryError, match="email to a@b via relay: connection refused"):
        notify.send_email(relay, "a@b", "s", "b")
