"""Backups of the mail data (restic) and the restore check."""
