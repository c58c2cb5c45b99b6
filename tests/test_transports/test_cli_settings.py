"""`yibao run|webhook|chat` with bad settings: one line naming the setting, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

YIBAO = Path(sys.executable).with_name("yibao")


def yibao(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the console script in an empty directory with only PATH and `env` set."""
    command = [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), **env},
    )


@pytest.mark.parametrize("command", ["run", "webhook"])
def test_missing_token_names_bot_token(tmp_path: Path, command: str) -> None:
    result = yibao(tmp_path, command)
    assert result.returncode == 2
    assert result.stderr.startswith("yibao: BOT_TOKEN")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_token_in_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=1:x\nWEBHOOK_PORT=abc\n")
    result = yibao(tmp_path, "webhook")
    assert result.returncode == 2
    assert result.stderr.startswith("yibao: WEBHOOK_PORT")


@pytest.mark.parametrize("command", ["webhook", "run", "chat"])
def test_bad_port_names_webhook_port(tmp_path: Path, command: str) -> None:
    result = yibao(tmp_path, command, BOT_TOKEN="1:x", WEBHOOK_PORT="abc")
    assert result.returncode == 2
    assert "yibao: WEBHOOK_PORT" in result.stderr
    assert "Traceback" not in result.stderr
