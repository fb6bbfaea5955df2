"""The flow of one application, step by step, with a committed checkpoint after each outside
call: ``steps`` (the steps and what escapes them), ``row`` (checkpoints and how a row ends),
``services`` (what the flow talks to)."""

from poller.flow.services import Services
from poller.flow.steps import process

__all__ = ["Services", "process"]
