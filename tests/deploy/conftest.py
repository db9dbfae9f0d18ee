"""Shared pieces for the deployment checks (issue 15 §3): where the repository, the files under
deploy/ and the `signet` binary are."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SIGNET = os.environ.get("SIGNET_BIN", str(REPO / "target" / "debug" / "signet"))
