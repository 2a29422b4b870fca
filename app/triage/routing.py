"""Who is responsible for a ticket, and which queue it goes to.

Responsibility follows marketplace practice: the seller answers for the goods and their own
shipping until the parcel is handed over, the carrier for a parcel in transit, the platform for
accounts, payments, privacy, promotions and for stepping in when a seller fails the buyer.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.schemas import Order
from app.taxonomy import Intent, OrderStatus, ResponsibleParty

_SELLER_INTENTS = {
    Intent.DAMAGED_ITEM,
    Intent.WRONG_ITEM,
    Intent.MISSING_ITEM,
    Intent.RETURN_REQUEST,
    Intent.REFUND_STATUS,
    Intent.INVOICE_REQUEST,
    Intent.PRODUCT_QUESTION,
    Intent.WARRANTY_CLAIM,
    Intent.CHANGE_ORDER,
    Intent.CANCEL_ORDER,
}
_PLATFORM_INTENTS = {
    Intent.ACCOUNT_ACCESS,
    Intent.PRIVACY_REQUEST,
    Intent.PAYMENT_ISSUE,
    Intent.PROMOTION_COUPON,
    Intent.BUYER_PROTECTION_CLAIM,
    Intent.SELLER_DISPUTE,
    Intent.COMPLAINT,
    Intent.FEEDBACK_PRAISE,
}
# Intents about the parcel's journey: the seller until it ships, the carrier afterwards.
_TRANSIT_INTENTS = {Intent.ORDER_STATUS, Intent.DELIVERY_DELAYED, Intent.NOT_RECEIVED, Intent.CHANGE_ADDRESS}
_SHIPPED = {OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED}
_NOT_SHIPPED = {OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.PROCESSING}


@dataclass(frozen=True, slots=True)
class PartyDecision:
    party: ResponsibleParty
    certainty: float
    reason: str


def responsible_party(intent: str, order: Order | None) -> PartyDecision:
    status = order.status if order else None
    has_seller = bool(order and order.seller)
    if intent in _PLATFORM_INTENTS:
        return PartyDecision(ResponsibleParty.PLATFORM, 0.9, f"{intent} is handled by the platform")
    if intent == Intent.SHIPPING_CUSTOMS:
        return PartyDecision(ResponsibleParty.CARRIER, 0.8, "customs clearance is handled by the carrier")
    if intent in _TRANSIT_INTENTS:
        if status in _NOT_SHIPPED:
            return PartyDecision(ResponsibleParty.SELLER, 0.85, f"order is {status}: the seller has not shipped yet")
        if status in _SHIPPED or (order and (order.shipped_at or order.tracking_number)):
            return PartyDecision(ResponsibleParty.CARRIER, 0.8, "the parcel has shipped: it is with the carrier")
        if intent == Intent.CHANGE_ADDRESS and has_seller:
            return PartyDecision(ResponsibleParty.SELLER, 0.6, "address changes go to the seller before dispatch")
        return PartyDecision(ResponsibleParty.UNKNOWN, 0.4, "no order status to tell seller from carrier")
    if intent in _SELLER_INTENTS:
        if has_seller:
            return PartyDecision(ResponsibleParty.SELLER, 0.85, f"{intent} concerns goods sold by the seller")
        return PartyDecision(ResponsibleParty.SELLER, 0.55, f"{intent} is usually the seller's (no seller given)")
    return PartyDecision(ResponsibleParty.UNKNOWN, 0.5, f"no rule assigns {intent}")


def route(intent: str, flags: list[str], queues: dict[str, str], escalation_queues: dict[str, str]) -> tuple[str, str]:
    """Queue name and the reason for it."""
    for flag, queue in escalation_queues.items():
        if flag in flags:
            return queue, f"escalation flag {flag} routes to {queue}"
    if intent in queues:
        return queues[intent], f"intent {intent} routes to {queues[intent]}"
    return queues.get("other", "general"), f"no route for {intent}; default queue"
