"""The package's public surface is what __all__ says."""

from __future__ import annotations

import poller.sandbox


def test_all_names_are_exported() -> None:
    public = {name for name in dir(poller.sandbox) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(poller.sandbox, name)).__name__ == "module"}
    assert set(poller.sandbox.__all__) == public - modules
    assert {"Sandbox", "serve_forever", "PinpointSim", "HibobSim", "AuditSnapshot"} <= public
