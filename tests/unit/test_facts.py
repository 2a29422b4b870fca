"""Policy facts are computed from the order and the KB front matter, with seller overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec

from app.drafts.facts import add_business_days, compute_facts
from app.schemas import Order

DOCS = {
    "returns-policy": {"scope": "platform", "return_window_days": 30},
    "seller-nordic-home-returns": {
        "scope": "nordic-home",
        "return_window_days": 60,
        "return_shipping_paid_by": "seller",
    },
    "damaged-items": {"scope": "platform", "damage_report_window_days": 14},
    "delivery-delays": {"scope": "platform", "late_after_business_days": 3},
    "lost-parcel": {
        "scope": "platform",
        "lost_parcel_wait_business_days": 5,
        "carrier_investigation_business_days": 10,
    },
    "warranty-legal": {"scope": "platform", "legal_warranty_months": 24},
    "seller-voltbay-warranty": {"scope": "voltbay", "legal_warranty_months": 36},
    "buyer-protection": {"scope": "platform", "protection_claim_window_days": 60, "protection_max_amount_eur": 2500},
}


def order(**fields: object) -> Order:
    base = {
        "id": "TW-1111-2222",
        "status": "delivered",
        "seller": {"id": "casa-verde", "name": "Casa Verde"},
        "amount": 80.0,
        "payment_method": "paypal",
    }
    return msgspec.convert({**base, **fields}, Order)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T10:00:00+00:00").astimezone(UTC)


def test_return_window_open_and_closed() -> None:
    facts = compute_facts(
        intent="return_request", order=order(delivered_at="2026-10-01"), received_at=at("2026-10-20"), documents=DOCS
    )
    assert facts.get("return_deadline") == date(2026, 10, 31)
    assert facts.get("return_window_open") is True
    assert facts.facts["return_deadline"].source == "returns-policy"
    late = compute_facts(
        intent="return_request", order=order(delivered_at="2026-10-01"), received_at=at("2026-11-05"), documents=DOCS
    )
    assert late.get("return_window_open") is False


def test_seller_override_beats_platform() -> None:
    nordic = order(delivered_at="2026-10-01", seller={"id": "nordic-home", "name": "Nordic Home"})
    facts = compute_facts(intent="return_request", order=nordic, received_at=at("2026-11-05"), documents=DOCS)
    assert facts.get("return_window_days") == 60
    assert facts.get("return_window_open") is True
    assert facts.get("return_shipping_paid_by") == "seller"
    assert facts.facts["return_window_days"].source == "seller-nordic-home-returns"


def test_voltbay_warranty_is_36_months() -> None:
    volt = order(delivered_at="2024-01-15", seller={"id": "voltbay", "name": "VoltBay"})
    facts = compute_facts(intent="warranty_claim", order=volt, received_at=at("2026-06-01"), documents=DOCS)
    assert facts.get("warranty_until") == date(2027, 1, 15)
    assert facts.get("in_warranty") is True
    platform = compute_facts(
        intent="warranty_claim", order=order(delivered_at="2024-01-15"), received_at=at("2026-06-01"), documents=DOCS
    )
    assert platform.get("in_warranty") is False


def test_business_days_skip_weekends() -> None:
    # 2026-11-20 is a Friday.
    assert add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 23)
    assert add_business_days(date(2026, 11, 20), 5) == date(2026, 11, 27)


def test_late_and_lost_parcel() -> None:
    transit = order(status="in_transit", estimated_delivery="2026-11-02", delivered_at=None)
    early = compute_facts(intent="delivery_delayed", order=transit, received_at=at("2026-11-04"), documents=DOCS)
    assert early.get("is_late") is False and early.get("late_from") == date(2026, 11, 5)
    later = compute_facts(intent="delivery_delayed", order=transit, received_at=at("2026-11-12"), documents=DOCS)
    assert later.get("is_late") is True and later.get("lost_claim_open") is True


def test_refund_days_by_payment_method_and_cancellable() -> None:
    docs = {
        **DOCS,
        "refunds-timing": {
            "scope": "platform",
            "refund_processing_days": 3,
            "refund_days_by_method": {"paypal": 2, "card": 5},
        },
    }
    facts = compute_facts(
        intent="cancel_order", order=order(status="processing"), received_at=at("2026-11-04"), documents=docs
    )
    assert facts.get("refund_bank_days") == 2
    assert facts.get("cancellable") is True
    shipped = compute_facts(
        intent="cancel_order", order=order(status="shipped"), received_at=at("2026-11-04"), documents=docs
    )
    assert shipped.get("cancellable") is False


def test_buyer_protection_amount_cap_and_deadline() -> None:
    big = order(delivered_at="2026-10-01", amount=3000.0)
    facts = compute_facts(intent="buyer_protection_claim", order=big, received_at=at("2026-10-10"), documents=DOCS)
    assert facts.get("protection_deadline") == date(2026, 11, 30)
    assert facts.get("protection_eligible") is True  # within the window…
    assert facts.get("protection_capped") is True  # …but covered only up to 2,500 EUR
    expired = compute_facts(intent="buyer_protection_claim", order=big, received_at=at("2026-12-10"), documents=DOCS)
    assert expired.get("protection_eligible") is False


def test_duties_when_crossing_the_eu_border() -> None:
    docs = {**DOCS, "customs-duties": {"scope": "platform", "duties_threshold_eur": 150}}
    from_japan = order(
        amount=180.0, seller={"id": "kirin-goods", "name": "Kirin Goods", "country": "JP"}, destination_country="DE"
    )
    assert (
        compute_facts(intent="shipping_customs", order=from_japan, received_at=at("2026-11-04"), documents=docs).get(
            "duties_may_apply"
        )
        is True
    )
    to_swiss = order(
        amount=180.0, seller={"id": "voltbay", "name": "VoltBay", "country": "DE"}, destination_country="CH"
    )
    assert (
        compute_facts(intent="shipping_customs", order=to_swiss, received_at=at("2026-11-04"), documents=docs).get(
            "duties_may_apply"
        )
        is True
    )
    inside = order(amount=180.0, seller={"id": "voltbay", "name": "VoltBay", "country": "DE"}, destination_country="FR")
    assert (
        compute_facts(intent="shipping_customs", order=inside, received_at=at("2026-11-04"), documents=docs).get(
            "duties_may_apply"
        )
        is False
    )


def test_missing_kb_facts_fall_back_and_are_reported() -> None:
    facts = compute_facts(intent="invoice_request", order=order(), received_at=at("2026-11-04"), documents={})
    assert "invoice_issue_business_days" in facts.missing
    assert facts.facts["invoice_issue_business_days"].source == "default"


def test_no_order_still_gives_policy_values() -> None:
    facts = compute_facts(intent="privacy_request", order=None, received_at=at("2026-11-04"), documents=DOCS)
    assert facts.get("privacy_due") == date(2026, 12, 4)
    assert facts.get("return_window_days") == 30
