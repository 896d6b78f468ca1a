"""continuity_preflight: the readiness checks and the DNS, MTA-STS, SPF and TLSA parts."""
