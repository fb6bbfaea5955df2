"""`python -m poller`: the same as the `poller` command."""

from poller.cli import main

main()
