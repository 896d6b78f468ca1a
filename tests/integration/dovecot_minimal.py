# Copyright (c) continuity.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smallest real Dovecot the sync tests and the sync benchmark run beside the lab:
passwd-file users (iterable, so `doveadm -A` works), sdbox mailboxes, no IMAP/POP listeners."""

_BASE = """protocols =
ssl = no
mail_location = sdbox:~/mail
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 5000
passdb {
  driver = passwd-file
  args = /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/users
  default_fields = uid=vmail gid=vmail home=/var/vmail/%d/%n
}
"""


def dovecot_conf(doveadm_password=None, doveadm_port=None):
    """dovecot.conf text; with a password and port, doveadm also listens on TCP for syncs."""
    if doveadm_password is None:
        return _BASE
    return (
        _BASE
        + "doveadm_password = %s\nservice doveadm {\n  inet_listener {\n    port = %d\n  }\n}\n"
        % (doveadm_password, doveadm_port)
    )
