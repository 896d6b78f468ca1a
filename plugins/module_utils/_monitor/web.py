# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP(S) requests for the monitor (peers, webhooks, AWX), standard library only.

The monitor runs as its own program on hosts without Ansible, so it cannot use
ansible.module_utils.urls; this is the one place it opens URLs. Proxies from the
environment are ignored: a monitor talks to its peers and receivers directly.
"""

import urllib.request


def request(req, timeout, context=None):
    """Open a urllib Request; the caller closes the response (a context manager)."""
    handlers = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return urllib.request.build_opener(*handlers).open(req, timeout=timeout)
