"""The continuity monitor: a long-running service that probes, decides by quorum, alerts, and
(opt-in) starts the failover flow. One concern per file; standard library only."""
