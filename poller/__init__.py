"""Pinpoint → HiBob hire poller."""
