"""What a log line may say of an error: where it happened, never its message (which may quote
what a person wrote)."""

from __future__ import annotations

import traceback


def where(error: BaseException) -> str:
    """`file:line in function` of the innermost frame: enough to find a bug, no values."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"
