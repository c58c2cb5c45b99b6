"""FSM storage backends and user erasure."""

from bot.storage.forget import forget_user
from bot.storage.sqlite import SQLiteStorage

__all__ = ["SQLiteStorage", "forget_user"]
