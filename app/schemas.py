"""The ticket vocabulary every feature shares: customer, order, history, and the ticket itself.

These are msgspec Structs: they validate API bodies (unknown fields are rejected), and the
service layer, the evals and the datasets use the same types.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from app.taxonomy import Channel, CustomerTier, OrderStatus, PaymentMethod

MAX_MESSAGE_CHARS = 20_000
MAX_SUBJECT_CHARS = 500
MAX_BATCH_ITEMS = 256
MAX_HISTORY_ITEMS = 50

Name = Annotated[str, msgspec.Meta(max_length=200)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Money = Annotated[float, msgspec.Meta(ge=0, le=10_000_000)]


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Base for request bodies: unknown fields are an error, not silently dropped."""


def parse_day(value: str | None) -> date | None:
    """Accept ``YYYY-MM-DD`` or a full ISO timestamp; return the calendar day."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD) or timestamp") from exc


class Customer(Strict):
    name: Name | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    locale: Annotated[str, msgspec.Meta(max_length=20, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")] | None = None
    tier: CustomerTier = CustomerTier.STANDARD
    id: ShortText | None = None


class Seller(Strict):
    id: ShortText
    name: Name | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None  # ships from (ISO 3166-1)


class OrderItem(Strict):
    name: Name
    sku: ShortText | None = None
    quantity: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 1
    price: Money | None = None
    category: ShortText | None = None


class Order(Strict):
    id: ShortText | None = None
    status: OrderStatus | None = None
    placed_at: str | None = None
    shipped_at: str | None = None
    estimated_delivery: str | None = None
    delivered_at: str | None = None
    seller: Seller | None = None
    amount: Money | None = None
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"
    payment_method: PaymentMethod | None = None
    items: Annotated[list[OrderItem], msgspec.Meta(max_length=200)] = msgspec.field(default_factory=list)
    destination_country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None
    tracking_number: ShortText | None = None
    carrier: ShortText | None = None

    def __post_init__(self) -> None:
        for name in ("placed_at", "shipped_at", "estimated_delivery", "delivered_at"):
            parse_day(getattr(self, name))  # raises ValueError -> a 422 naming the value

    def day(self, name: str) -> date | None:
        value: str | None = getattr(self, name)
        return parse_day(value)


class HistoryMessage(Strict):
    role: Annotated[str, msgspec.Meta(pattern=r"^(buyer|agent|seller|system)$")] = "buyer"
    text: Annotated[str, msgspec.Meta(max_length=MAX_MESSAGE_CHARS)] = ""
    at: datetime | None = None


def check_message(message: str) -> None:
    if not message.strip():
        raise ValueError("message must contain text (it is empty or only whitespace)")


class TicketIn(Strict):
    """One buyer message with its context, as a helpdesk sends it."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    subject: Annotated[str, msgspec.Meta(max_length=MAX_SUBJECT_CHARS)] | None = None
    channel: Channel = Channel.EMAIL
    customer: Customer | None = None
    order: Order | None = None
    history: Annotated[list[HistoryMessage], msgspec.Meta(max_length=MAX_HISTORY_ITEMS)] = msgspec.field(
        default_factory=list
    )
    language_hint: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    external_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        check_message(self.message)
