"""doveadm output relayed by a remote doveadm server can split a value with a stray tab."""
from ansible_collections.continuity.mail.plugins.module_utils._doveadm import parse_message_set


def test_stray_tab_inside_a_guid_is_rejoined():
    output = ("mailbox\tguid\n"
              "INBOX\t59c5121b15cf096b9f2600006f0f2a94\n"
              "INBOX\t79c5080ad1\tda096b30d200006f0f2a94\t\n"
              "Sent Items\t59c5121b15cf096b9f2600006f0f2a95\n")
    messages = parse_message_set(output)
    assert messages[("INBOX", "79c5080ad1da096b30d200006f0f2a94")] == 1
    assert messages[("INBOX", "59c5121b15cf096b9f2600006f0f2a94")] == 1
    assert messages[("Sent Items", "59c5121b15cf096b9f2600006f0f2a95")] == 1
    assert sum(messages.values()) == 3
