"""The status page as deployed (kubectl kustomize): it listens off loopback, so its token must
be wired from the Secret; it never gets the API keys; it runs the poller's own release."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "deploy/kubernetes/overlays/deployment-with-status-page"


def _kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.is_file() else shutil.which("kubectl")
    if found is None:
        pytest.skip("needs kubectl (for kubectl kustomize)")
    return found


def test_the_status_page_overlay_wires_its_token_and_nothing_else() -> None:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(OVERLAY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}
    page: dict[str, Any] = docs[("Deployment", "poller-status-page")]["spec"]["template"]["spec"]
    poller = docs[("Deployment", "poller")]["spec"]["template"]["spec"]
    (container,) = page["containers"]
    everywhere = "0.0.0.0"  # noqa: S104 - what the pod does, so the token is required
    assert container["args"][:3] == ["web", "--host", everywhere]
    env = {e["name"]: e for e in container["env"]}
    assert not {k for k in env if k.startswith(("PINPOINT_", "HIBOB_"))}
    token_path = Path(env["POLLER_WEB_TOKEN_FILE"]["value"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volume = next(v for v in page["volumes"] if v["name"] == mounts[str(token_path.parent)])
    assert volume["secret"]["items"] == [{"key": "status-page-token", "path": token_path.name}]
    secret_keys = {
        item["key"] for v in page["volumes"] if "secret" in v for item in v["secret"]["items"]
    }
    assert secret_keys == {"status-page-token"}  # never the API keys
    assert container["image"] == poller["containers"][0]["image"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = docs[("Service", "poller-status-page")]["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == 8080
    assert (
        service["selector"]
        == docs[("Deployment", "poller-status-page")]["spec"]["selector"]["matchLabels"]
    )
    template = (ROOT / "deploy/kubernetes/base/secret.example.yaml").read_text()
    assert "status-page-token:" in template
