"""The `poller` command: parse, build objects, call one function, map errors to exit codes.

``base`` holds the group and what commands share; ``run``, ``rows`` and ``tools`` add the
commands to it (importing them is what registers them). ``check``, ``preview`` and ``demo``
are what three of the commands call.
"""

from poller.cli import rows, run, tools
from poller.cli.base import main

__all__ = ["main", "rows", "run", "tools"]
