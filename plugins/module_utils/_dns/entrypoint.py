# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry point every DNS module shares: argument spec, dnspython check, run, result."""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import dns.version  # noqa: F401 pylint: disable=unused-import

    DNSPYTHON_ERROR = None
except ImportError:
    DNSPYTHON_ERROR = traceback.format_exc()

from ansible_collections.continuity.mail.plugins.module_utils._dns.input import InputError
from ansible_collections.continuity.mail.plugins.module_utils._dns.options import (
    connection_spec,
    wait_spec,
)


def run_module(extra_spec, run, wait=True):
    """Build the module from the shared connection options (and wait options unless
    wait=False) plus extra_spec, then run(params, check_mode, diff) -> (result, failure
    message or None) and report."""
    argument_spec = connection_spec()
    if wait:
        argument_spec.update(wait_spec())
    argument_spec.update(extra_spec)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_together=[("key_name", "key_secret")],
    )
    if DNSPYTHON_ERROR:
        module.fail_json(msg=missing_required_lib("dnspython"), exception=DNSPYTHON_ERROR)
    try:
        result, failure = run(module.params, module.check_mode, module._diff)
    except InputError as exc:
        module.fail_json(msg=str(exc), changed=False)
    if failure:
        module.fail_json(**dict(result, msg=failure))
    module.exit_json(**result)
