"""Drill reports: the phases of a drill, read off the flows ' timeline."""
