"""The long-running process: the APScheduler loop, its health server, and the wiring."""
