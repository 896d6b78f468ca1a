#!/usr/bin/env python3
# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drill traffic: send uniquely identified messages through a local MTA until told to stop.

Runs on the lab's sender (as a transient systemd unit) while a drill injects an outage and
fails over, so mail keeps arriving the whole time. Each accepted message is logged as one
JSON line {seq, to, message_id, sent_at}; the drill later checks that every logged message
exists on the primary exactly once.
"""

import argparse
import json
import os
import smtplib
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-id", required=True)
    parser.add_argument(
        "--to", required=True, action="append", help="recipient (repeatable; round-robin)"
    )
    parser.add_argument("--sender", default="drill@example.net")
    parser.add_argument("--min-count", type=int, default=100, help="send at least this many")
    parser.add_argument("--max-count", type=int, default=10000, help="never send more than this")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between messages")
    parser.add_argument(
        "--stop-file", required=True, help="stop (after min-count) once this exists"
    )
    parser.add_argument("--log", required=True, help="JSON lines of accepted messages")
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    return parser.parse_args(argv)


def build(args, seq, recipient):
    message = EmailMessage()
    message["From"] = args.sender
    message["To"] = recipient
    message["Subject"] = "continuity drill %s #%d" % (args.run_id, seq)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = "<drill-%s-%06d@%s>" % (args.run_id, seq, args.sender.split("@")[1])
    message["X-Continuity-Drill"] = args.run_id
    message.set_content("Drill message %d of run %s.\n" % (seq, args.run_id))
    return message


def main(argv):
    args = parse_args(argv)
    seq = 0
    failures = 0
    with open(args.log, "a", encoding="utf-8") as log:
        while seq < args.max_count:
            if seq >= args.min_count and os.path.exists(args.stop_file):
                break
            recipient = args.to[seq % len(args.to)]
            message = build(args, seq + 1, recipient)
            try:
                with smtplib.SMTP(args.server, args.port, timeout=30) as smtp:
                    smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                # The local MTA refusing is a drill failure, not an outage: report and retry.
                failures += 1
                print("send %d failed: %s" % (seq + 1, exc), file=sys.stderr)
                if failures > 50:
                    return 1
                time.sleep(1)
                continue
            seq += 1
            log.write(
                json.dumps(
                    {
                        "seq": seq,
                        "to": recipient,
                        "message_id": message["Message-ID"],
                        "sent_at": time.time(),
                    }
                )
                + "\n"
            )
            log.flush()
            time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
