"""Ticket payloads several test modules send."""

from __future__ import annotations

from typing import Any

# An English buyer whose kettle arrived broken, with a delivered Nordic Home order.
KETTLE: dict[str, Any] = {
    "message": "Hi, my kettle arrived with a cracked lid and it leaks everywhere. I want a replacement or my money back.",
    "subject": "Broken kettle",
    "customer": {"name": "Maria Rossi", "locale": "en-GB", "tier": "standard"},
    "order": {
        "id": "TW-4821-7730",
        "status": "delivered",
        "placed_at": "2026-11-10",
        "delivered_at": "2026-11-18",
        "seller": {"id": "nordic-home", "name": "Nordic Home"},
        "amount": 49.9,
        "currency": "EUR",
    },
}
