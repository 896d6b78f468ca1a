"""The health probe engine: targets, statuses, rise/fall, bounded concurrency."""
