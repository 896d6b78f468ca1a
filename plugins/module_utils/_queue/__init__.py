"""The Postfix queue: status from postqueue -j, and actions (flush, hold, release, requeue)."""
