"""`replydesk eval ...` and `replydesk feedback export`."""

from __future__ import annotations

from typing import Any


def register(sub: Any, add: Any) -> None:
    return None
