# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How monitors see each other: each serves its latest verdict over HTTPS at /verdict,
guarded by a shared bearer token, and every monitor pulls its peers' verdicts once per
interval. A peer that does not answer within `timeout`, answers with an error, or serves
a verdict older than the site's `max_age` abstains.

Pulling (not pushing) keeps a monitor's view its own: what it counts is exactly what it
could read just now, so a monitor cut off from its peers knows it is alone.
"""

import asyncio
import hmac
import http.server
import json
import socket
import ssl
import threading
import urllib.request

from ansible_collections.continuity.mail.plugins.module_utils._monitor import web
from ansible_collections.continuity.mail.plugins.module_utils._monitor.clock import in_thread

PATH = "/verdict"


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "continuity-monitor"

    def do_GET(self):
        expected = "Bearer %s" % self.server.token
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            self._reply(401, b'{"error": "bearer token required"}')
            return
        if self.path.split("?")[0] != PATH:
            self._reply(404, b'{"error": "not found"}')
            return
        self._reply(200, self.server.body)

    def _reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # one request per peer per second: not worth a log line


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _HTTP6Server(_HTTPServer):
    address_family = socket.AF_INET6

    def server_bind(self):
        # "::" serves IPv4 peers too (dual stack), whatever the system's default.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def _bind(address, port):
    if ":" not in address:
        return _HTTPServer((address, port), _Handler)
    try:
        return _HTTP6Server((address, port), _Handler)
    except OSError:
        if address != "::":
            raise
        return _HTTPServer(("0.0.0.0", port), _Handler)  # a host without IPv6


class VerdictServer:
    """Serves the verdict set by publish() on (address, port), over TLS when a certificate
    and key are given, from a daemon thread. "::" listens on IPv6 and IPv4."""

    def __init__(self, address, port, token, cert=None, key=None):
        if not token:
            raise ValueError("the verdict server needs a bearer token")
        self.httpd = _bind(address, port)
        self.httpd.token = token
        self.httpd.body = b"{}"
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = None

    @property
    def port(self):
        return self.httpd.server_address[1]

    def publish(self, verdict):
        self.httpd.body = json.dumps(verdict, sort_keys=True).encode()

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,), daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def client_context(ca_path=None, verify=True):
    context = ssl.create_default_context(cafile=ca_path)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def fetch(peer, token, timeout):
    """Read one peer's verdict (blocking); returns the document or raises."""
    request = urllib.request.Request(peer["url"])
    request.add_header("Authorization", "Bearer %s" % token)
    context = None
    if peer["url"].startswith("https:"):
        context = client_context(peer.get("ca_path"), peer.get("tls_verify", True))
    with web.request(request, timeout, context) as response:
        doc = json.loads(response.read().decode())
    if not isinstance(doc, dict) or not isinstance(doc.get("targets"), dict):
        raise ValueError("not a verdict")
    return doc


async def pull(peers, token, timeout, fetcher=fetch):
    """{peer name: verdict document, or the reason it could not be read}, all at once."""

    async def one(peer):
        if asyncio.iscoroutinefunction(fetcher):
            reading = fetcher(peer, token, timeout)
        else:
            reading = in_thread(fetcher, peer, token, timeout)
        try:
            return await asyncio.wait_for(reading, timeout + 0.5)
        except asyncio.TimeoutError:
            return "no answer within %g s" % timeout
        except Exception as exc:
            return "%s: %s" % (type(exc).__name__, exc)

    answers = await asyncio.gather(*(one(peer) for peer in peers))
    return dict((peer["name"], answer) for peer, answer in zip(peers, answers))
