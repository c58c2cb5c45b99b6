"""An output stream for the terminal transport's tests."""

from __future__ import annotations

import io


class Screen(io.StringIO):
    """An output stream that keeps each printed block (one write per message)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []

    def write(self, text: str) -> int:
        self.blocks.append(text.strip("\n"))
        return super().write(text)
