"""The README's two commands: CI runs the test command verbatim; the demo command works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block is not None, "the README opens with a bash block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_demo_and_test_commands():
    demo, tests = readme_commands()[:2]
    assert demo.startswith("python3 -m venv .venv && ")
    assert "examples/forecasting/run.py" in demo
    assert tests.startswith("python3 -m venv .venv && ")
    assert tests.endswith("-m pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    tests = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


@pytest.mark.slow
def test_demo_command_works_in_a_clean_copy(tmp_path):
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    copy = tmp_path / "repo"
    for name in files:
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    demo = readme_commands()[0].replace("python3 ", f"{sys.executable} ", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["HAMILTON_TELEMETRY_ENABLED"] = "false"
    result = subprocess.run(
        demo,
        shell=True,
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "backtest WAPE" in result.stdout
    assert (copy / "examples" / "forecasting" / "data" / "forecast.png").exists()
