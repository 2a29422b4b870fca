"""Every phrase book renders every plan step in every locale without holes or stray numbers."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from app.drafts.templates import TEMPLATES_DIR, MissingValue, available_locales, load_phrasebook
from app.taxonomy import TEMPLATE_LOCALES

VALUES = {
    "first_name": "Ana",
    "full_name": "Ana Costa",
    "order_id": "TW-1234-5678",
    "seller_name": "Casa Verde",
    "item_name": "garden chair",
    "estimated_delivery": date(2026, 3, 12),
    "delivered_at": date(2026, 3, 10),
    "late_from": date(2026, 3, 17),
    "lost_claim_from": date(2026, 3, 19),
    "carrier_investigation_business_days": 10,
    "damage_report_window_days": 14,
    "damage_report_deadline": date(2026, 3, 24),
    "warranty_until": date(2028, 3, 10),
    "return_deadline": date(2026, 4, 9),
    "return_window_days": 30,
    "return_shipping_fee_eur": 4.95,
    "refund_processing_days": 3,
    "payment_method_name": "card",
    "refund_bank_days": 5,
    "seller_response_hours": 48,
    "authorization_release_business_days": 7,
    "invoice_issue_business_days": 3,
    "invoice_due": date(2026, 3, 13),
    "privacy_response_days": 30,
    "privacy_due": date(2026, 4, 9),
    "dispute_seller_days": 3,
    "platform_steps_in_from": date(2026, 3, 13),
    "protection_deadline": date(2026, 5, 9),
    "protection_decision_days": 7,
    "legal_warranty_months": 24,
    "coupon_per_order": 1,
    "protection_max_amount_eur": 2500.0,
    "duties_threshold_eur": 150.0,
    "document_title": "Returns policy",
    "sentence": "You can return most items within 30 days.",
    "tracking_number": "1Z999",
}


def test_all_template_locales_exist() -> None:
    assert set(TEMPLATE_LOCALES) <= set(available_locales())


@pytest.mark.parametrize("locale", TEMPLATE_LOCALES)
def test_same_keys_and_placeholders_as_english(locale: str) -> None:
    english = yaml.safe_load((TEMPLATES_DIR / "en.yaml").read_text())
    other = yaml.safe_load((TEMPLATES_DIR / f"{locale}.yaml").read_text())
    assert set(other["phrases"]) == set(english["phrases"])
    book = load_phrasebook(locale)
    en_book = load_phrasebook("en")
    for key, text in english["phrases"].items():
        assert set(book.placeholders(other["phrases"][key])) == set(en_book.placeholders(text)), (locale, key)
    assert len(other["months"]) == 12


@pytest.mark.parametrize("locale", TEMPLATE_LOCALES)
def test_every_phrase_renders(locale: str) -> None:
    book = load_phrasebook(locale)
    for key in book.data["phrases"]:
        text = book.render(book.phrase(key), VALUES)
        assert "{" not in text and "}" not in text, (locale, key, text)


def test_missing_value_raises_instead_of_leaving_a_hole() -> None:
    book = load_phrasebook("en")
    with pytest.raises(MissingValue):
        book.render(book.phrase("return_open"), {"item_name": "chair"})


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "9 April 2026"), ("de", "9. April 2026"), ("ja", "2026年4月9日"), ("pl", "9 kwietnia 2026")],
)
def test_dates_are_localized(locale: str, expected: str) -> None:
    assert load_phrasebook(locale).format_date(date(2026, 4, 9)) == expected


def test_money_uses_locale_decimal_separator() -> None:
    assert "4,95" in load_phrasebook("de").format_money(4.95)
    assert "4.95" in load_phrasebook("en").format_money(4.95)
