"""`crosswalk demo` on embedded defaults: issues move Open → Acknowledged → Closed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

CROSSWALK = str(Path(sys.executable).with_name("crosswalk"))


def counts(url: str) -> dict[str, int]:
    html = requests.get(url, timeout=5).text
    return {m[0]: int(m[1]) for m in re.findall(r'data-state="(\w+)">(\d+)<', html)}


def test_demo_moves_issues_to_closed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CROSSWALK_INSTANCE"] = str(tmp_path)
    proc = subprocess.Popen(
        [
            CROSSWALK,
            "demo",
            "--port",
            "0",
            "--task-after",
            "1",
            "--close-after",
            "3",
            "--exit-after",
            "60",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = None
        for line in proc.stdout:
            if "Dashboard:" in line:
                url = line.split()[-1]
                break
        assert url, "the demo did not print its dashboard URL"
        assert "in-process queue" in requests.get(url, timeout=5).text  # the banner
        seen_acknowledged = False
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline:
            state = counts(url)
            seen_acknowledged |= state.get("acknowledged", 0) > 0
            if state.get("closed", 0) >= 20:
                break
            time.sleep(1)
        assert seen_acknowledged
        assert state.get("closed", 0) >= 20, state
        assert state.get("failed", 0) == 0, state
        assert (tmp_path / "demo.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
