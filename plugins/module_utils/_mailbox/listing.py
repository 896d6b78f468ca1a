# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""List messages (Message-ID per user and mailbox) on a Dovecot server through doveadm.

Standard library only: this runs on the mail hosts.
"""

FIELDS = ("user", "mailbox", "guid", "date.saved", "hdr.message-id")


def build_command(doveadm, users, mailbox, query):
    """The doveadm fetch command for the given users ('all' or a list), mailbox mask and query."""
    command = [doveadm, "-f", "tab", "fetch"]
    if users == "all":
        command.append("-A")
    else:
        command.extend(["-u", users])
    command.append(" ".join(FIELDS))
    command.extend(["mailbox", mailbox])
    command.extend(query)
    return command


def parse_fetch(output):
    """Parse `doveadm -f tab fetch` output into a list of message dicts.

    The first line is the header (with -A, doveadm prepends a 'username' column);
    every following line one message. Lines that do not have the header's column count
    (a header value with a tab or newline) raise ValueError rather than being guessed.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return []
    header = [name.strip().lower() for name in lines[0].split("\t")]
    missing = [field for field in FIELDS if field not in header]
    if missing:
        raise ValueError("doveadm output lacks column(s) %s: %r" % (", ".join(missing), lines[0]))
    messages = []
    for line in lines[1:]:
        values = line.split("\t")
        if len(values) != len(header):
            raise ValueError("unexpected doveadm fetch line: %r" % line)
        row = dict(zip(header, values))
        messages.append(
            {
                "user": row["user"],
                "mailbox": row["mailbox"],
                "guid": row["guid"],
                "saved": row["date.saved"],
                "message_id": row["hdr.message-id"].strip(),
            }
        )
    return messages


def summarise(messages):
    """Per-user lists of Message-IDs and the total count (messages without an ID included)."""
    users = {}
    for message in messages:
        users.setdefault(message["user"], []).append(message["message_id"])
    for ids in users.values():
        ids.sort()
    return users
