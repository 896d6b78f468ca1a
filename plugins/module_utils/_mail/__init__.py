"""The one SMTP, IMAP and TLS client code, shared by the health probes and the canary."""
