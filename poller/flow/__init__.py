"""The flow of one application, step by step, with a committed checkpoint after each outside
call: ``steps`` (the steps and what escapes them), ``row`` (checkpoints and how a row ends),
and ``poller.services`` (what the flow talks to)."""

from poller.flow.steps import process
from poller.services import Services

__all__ = ["Services", "process"]
