"""Policy facts, computed from the order and the knowledge base's front matter, never guessed.

A fact is a typed value with the document it comes from and a one-line explanation. Dates are
calendar dates; "business days" skip Saturdays and Sundays (public holidays are not modelled,
and the explanation says "business days" so an agent knows). Seller-specific documents override
platform values for that seller's orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.schemas import Order
from app.taxonomy import OrderStatus

EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
_NOT_SHIPPED = {OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.PROCESSING}
# Until the seller starts preparing the parcel, the order can still be changed (order-changes).
_CHANGEABLE = {OrderStatus.PENDING, OrderStatus.PAID}

# Platform defaults, used only when the knowledge base is missing a fact (and then flagged).
FALLBACK_FACTS: dict[str, Any] = {
    "return_window_days": 30,
    "return_shipping_paid_by": "buyer",
    "return_shipping_fee_eur": 4.95,
    "refund_processing_days": 3,
    "refund_days_by_method": {
        "card": 5,
        "paypal": 2,
        "bank_transfer": 7,
        "klarna": 5,
        "apple_pay": 5,
        "google_pay": 5,
        "gift_card": 1,
    },
    "damage_report_window_days": 14,
    "late_after_business_days": 3,
    "lost_parcel_wait_business_days": 5,
    "carrier_investigation_business_days": 10,
    "seller_response_hours": 48,
    "protection_claim_window_days": 60,
    "protection_max_amount_eur": 2500,
    "protection_decision_days": 7,
    "dispute_seller_days": 3,
    "legal_warranty_months": 24,
    "authorization_release_business_days": 7,
    "invoice_issue_business_days": 3,
    "duties_threshold_eur": 150,
    "privacy_response_days": 30,
    "coupon_per_order": 1,
}


@dataclass(frozen=True, slots=True)
class Fact:
    key: str
    value: Any
    source: str  # document id, "order" or "ticket"
    explanation: str


@dataclass(slots=True)
class PolicyFacts:
    today: date
    facts: dict[str, Fact] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def add(self, key: str, value: Any, source: str, explanation: str) -> None:
        self.facts[key] = Fact(key, value, source, explanation)

    def get(self, key: str, default: Any = None) -> Any:
        fact = self.facts.get(key)
        return fact.value if fact else default

    def has(self, key: str) -> bool:
        return key in self.facts

    def sources(self, keys: list[str]) -> list[str]:
        return sorted(
            {self.facts[k].source for k in keys if k in self.facts and self.facts[k].source not in ("order", "ticket")}
        )

    def dates(self) -> set[date]:
        return {f.value for f in self.facts.values() if isinstance(f.value, date)}

    def numbers(self) -> set[float]:
        out: set[float] = set()
        for fact in self.facts.values():
            if isinstance(fact.value, bool):
                continue
            if isinstance(fact.value, int | float):
                out.add(float(fact.value))
            elif isinstance(fact.value, dict):
                out.update(float(v) for v in fact.value.values() if isinstance(v, int | float))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            k: {
                "value": f.value.isoformat() if isinstance(f.value, date) else f.value,
                "source": f.source,
                "explanation": f.explanation,
            }
            for k, f in sorted(self.facts.items())
        }


def add_business_days(start: date, days: int) -> date:
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def _add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, 28)


class FactSource:
    """Looks a fact key up in the seller's documents first, then the platform's."""

    def __init__(self, documents: dict[str, dict[str, Any]], seller: str | None) -> None:
        self._seller = seller
        self._seller_docs = {d: f for d, f in documents.items() if seller and f.get("scope") == seller}
        self._platform_docs = {d: f for d, f in documents.items() if f.get("scope", "platform") == "platform"}

    def lookup(self, key: str) -> tuple[Any, str] | None:
        for docs in (self._seller_docs, self._platform_docs):
            for doc_id, facts in sorted(docs.items()):
                if key in facts:
                    return facts[key], doc_id
        return None


def compute_facts(
    *,
    intent: str,
    order: Order | None,
    received_at: datetime,
    documents: dict[str, dict[str, Any]],
    responsible_party: str | None = None,
) -> PolicyFacts:
    """Every fact the order and policies allow, whatever the intent: templates pick what they need."""
    today = received_at.date()
    result = PolicyFacts(today=today)
    seller = order.seller.id if order and order.seller else None
    source = FactSource(documents, seller)

    def policy(key: str) -> tuple[Any, str]:
        found = source.lookup(key)
        if found is None:
            result.missing.append(key)
            return FALLBACK_FACTS[key], "default"
        return found

    result.add("today", today, "ticket", "date the message was received")
    if responsible_party:
        result.add("responsible_party", responsible_party, "triage", "who must act, from intent and order status")
    # Facts that hold whatever the order: answer deadlines and plain policy values.
    hours, doc_hours = policy("seller_response_hours")
    result.add("seller_response_hours", int(hours), doc_hours, "hours a seller has to answer")
    result.add(
        "seller_response_due",
        (received_at + timedelta(hours=int(hours))).date(),
        doc_hours,
        f"{hours} hours after the message",
    )
    privacy_days, doc_priv = policy("privacy_response_days")
    result.add("privacy_response_days", int(privacy_days), doc_priv, "days to answer a data request")
    result.add(
        "privacy_due", today + timedelta(days=int(privacy_days)), doc_priv, f"{privacy_days} days after the request"
    )
    coupons, doc_coupon = policy("coupon_per_order")
    result.add("coupon_per_order", int(coupons), doc_coupon, "coupons that can be combined on one order")
    release, doc_release = policy("authorization_release_business_days")
    result.add("authorization_release_business_days", int(release), doc_release, "pending authorisations drop off")
    threshold, doc_duty = policy("duties_threshold_eur")
    result.add("duties_threshold_eur", float(threshold), doc_duty, "order value above which import duties may apply")
    if order is None:
        for key in (
            "return_window_days",
            "damage_report_window_days",
            "protection_claim_window_days",
            "legal_warranty_months",
            "refund_processing_days",
            "carrier_investigation_business_days",
        ):
            value, doc = policy(key)
            result.add(key, value, doc, f"policy value from {doc}")
        return result

    if order.id:
        result.add("order_id", order.id, "order", "order reference")
    if order.seller:
        result.add("seller_name", order.seller.name or order.seller.id, "order", "seller of the order")
    if order.items:
        result.add("item_name", order.items[0].name, "order", "first item of the order")
    if order.amount is not None:
        result.add("order_amount", round(order.amount, 2), "order", f"order total in {order.currency}")
    status = order.status
    delivered = order.day("delivered_at")
    estimated = order.day("estimated_delivery")
    shipped = order.day("shipped_at")
    if delivered:
        result.add("delivered_at", delivered, "order", "delivery date")
    if estimated:
        result.add("estimated_delivery", estimated, "order", "estimated delivery date")
    if shipped:
        result.add("shipped_at", shipped, "order", "dispatch date")

    # Returns
    window, doc = policy("return_window_days")
    result.add("return_window_days", int(window), doc, f"return window from {doc}")
    paid_by, doc_paid = policy("return_shipping_paid_by")
    result.add("return_shipping_paid_by", paid_by, doc_paid, "who pays change-of-mind return shipping")
    fee, doc_fee = policy("return_shipping_fee_eur")
    result.add("return_shipping_fee_eur", float(fee), doc_fee, "return label price when the buyer pays")
    if delivered:
        deadline = delivered + timedelta(days=int(window))
        result.add("return_deadline", deadline, doc, f"{window} days after delivery on {delivered.isoformat()}")
        result.add("return_window_open", today <= deadline, doc, f"today {today.isoformat()} vs {deadline.isoformat()}")

    # Damaged, wrong or missing items
    report_days, doc = policy("damage_report_window_days")
    result.add("damage_report_window_days", int(report_days), doc, f"report window from {doc}")
    if delivered:
        report_deadline = delivered + timedelta(days=int(report_days))
        result.add("damage_report_deadline", report_deadline, doc, f"{report_days} days after delivery")
        result.add(
            "damage_report_open",
            today <= report_deadline,
            doc,
            f"today {today.isoformat()} vs {report_deadline.isoformat()}",
        )

    # Refunds
    processing, doc_proc = policy("refund_processing_days")
    result.add("refund_processing_days", int(processing), doc_proc, "days after the return arrives to issue the refund")
    by_method, doc_method = policy("refund_days_by_method")
    if order.payment_method and isinstance(by_method, dict) and order.payment_method.value in by_method:
        days = int(by_method[order.payment_method.value])
        result.add("payment_method", order.payment_method.value, "order", "payment method used")
        result.add(
            "refund_bank_days", days, doc_method, f"business days for {order.payment_method.value} refunds to show"
        )

    # Delivery: late, lost
    late_days, doc_late = policy("late_after_business_days")
    lost_days, doc_lost = policy("lost_parcel_wait_business_days")
    investigation, doc_inv = policy("carrier_investigation_business_days")
    result.add("carrier_investigation_business_days", int(investigation), doc_inv, "longest carrier investigation")
    if estimated and not delivered:
        late_from = add_business_days(estimated, int(late_days))
        lost_from = add_business_days(estimated, int(lost_days))
        result.add("late_from", late_from, doc_late, f"{late_days} business days after the estimated delivery")
        result.add("is_late", today > late_from, doc_late, f"today {today.isoformat()} vs {late_from.isoformat()}")
        result.add("lost_claim_from", lost_from, doc_lost, f"{lost_days} business days after the estimated delivery")
        result.add(
            "lost_claim_open", today > lost_from, doc_lost, f"today {today.isoformat()} vs {lost_from.isoformat()}"
        )

    # Cancellation
    if status is not None:
        result.add("order_status", status.value, "order", "order status")
        result.add("cancellable", status in _NOT_SHIPPED, "cancellation-policy", "free cancellation until dispatch")
        result.add("changeable", status in _CHANGEABLE, "order-changes", "sellers change orders while pending or paid")

    # Seller response and disputes
    dispute_days, doc_dispute = policy("dispute_seller_days")
    result.add("dispute_seller_days", int(dispute_days), doc_dispute, "days a seller has to resolve a dispute")
    result.add(
        "platform_steps_in_from",
        today + timedelta(days=int(dispute_days)),
        doc_dispute,
        "when Tradewind can step in if the seller does not resolve it",
    )

    # Buyer protection
    claim_days, doc_claim = policy("protection_claim_window_days")
    max_amount, doc_max = policy("protection_max_amount_eur")
    decision, doc_decision = policy("protection_decision_days")
    result.add("protection_decision_days", int(decision), doc_decision, "days to decide a complete claim")
    anchor = delivered or estimated
    if anchor:
        claim_deadline = anchor + timedelta(days=int(claim_days))
        result.add(
            "protection_deadline", claim_deadline, doc_claim, f"{claim_days} days after the (estimated) delivery"
        )
        in_window = today <= claim_deadline
        result.add(
            "protection_eligible", in_window, doc_claim, f"claims are possible until {claim_deadline.isoformat()}"
        )
        if in_window and order.amount is not None and order.amount > float(max_amount):
            result.add("protection_capped", True, doc_max, f"the order total is above the {max_amount} EUR cover")
        result.add("protection_max_amount_eur", float(max_amount), doc_max, "most Buyer Protection covers per order")
    result.add("protection_claim_window_days", int(claim_days), doc_claim, "buyer-protection claim window")

    # Warranty
    months, doc_w = policy("legal_warranty_months")
    result.add("legal_warranty_months", int(months), doc_w, f"warranty period from {doc_w}")
    if delivered:
        until = _add_months(delivered, int(months))
        result.add("warranty_until", until, doc_w, f"{months} months after delivery")
        result.add("in_warranty", today <= until, doc_w, f"today {today.isoformat()} vs {until.isoformat()}")

    # Payments, invoices, customs, privacy
    invoice_days, doc_inv2 = policy("invoice_issue_business_days")
    result.add(
        "invoice_due",
        add_business_days(today, int(invoice_days)),
        doc_inv2,
        f"{invoice_days} business days to send an invoice",
    )
    result.add(
        "invoice_issue_business_days", int(invoice_days), doc_inv2, "business days a seller has to send an invoice"
    )
    origin = order.seller.country if order.seller else None
    if order.destination_country or origin:
        # Duties apply when the parcel crosses the EU's customs border, in either direction.
        into_eu = (
            origin is not None and origin not in EU_COUNTRIES and (order.destination_country or "DE") in EU_COUNTRIES
        )
        out_of_eu = (
            order.destination_country is not None
            and order.destination_country not in EU_COUNTRIES
            and origin in (None, *EU_COUNTRIES)
        )
        if order.destination_country:
            result.add("destination_country", order.destination_country, "order", "delivery country")
        result.add(
            "duties_may_apply",
            (into_eu or out_of_eu) and (order.amount or 0) > float(threshold),
            doc_duty,
            f"crosses the EU customs border and is above {threshold} EUR",
        )
    return result
