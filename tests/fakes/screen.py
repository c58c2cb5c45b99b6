"""The terminal as its tests see it: an output stream, and `yibao chat` run as a person would."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

# The installed `yibao` script beside this Python, as a person would start it.
YIBAO = Path(sys.executable).with_name("yibao")


class Screen(io.StringIO):
    """An output stream that keeps each printed block (one write per message)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []

    def write(self, text: str) -> int:
        self.blocks.append(text.strip("\n"))
        return super().write(text)


def console_chat(folder: Path, typed: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`yibao chat` as a person starts it, in an empty folder with a bare environment."""
    command = [str(YIBAO)] if YIBAO.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, "chat", *args],
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=folder,
        env={"PATH": os.environ.get("PATH", "")},
    )
