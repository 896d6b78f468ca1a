"""Dovecot mailboxes: doveadm command lines and output, dsync runs, message listings."""
