"""Personal-data redaction and the escalation lexicons."""

from __future__ import annotations

import logging

import pytest

from app.lib.pii import RedactingFilter, iban_ok, luhn_ok, redact
from app.triage.rules import find_escalations


def test_redacts_and_restores() -> None:
    text = "Write to jan.kowalski@example.pl or call +48 601 234 567. Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, Hauptstraße 12."
    result = redact(text)
    for secret in ("jan.kowalski@example.pl", "601 234 567", "4111 1111 1111 1111", "DE89 3704", "Hauptstraße 12"):
        assert secret not in result.text
    assert result.restore(result.text) == text
    assert set(result.kinds) == {"EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS"}


def test_keeps_order_ids_dates_and_amounts() -> None:
    text = "Order TW-4821-7730 placed on 2026-10-07 for 49.90 EUR."
    assert redact(text).text == text


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE89 3704 0044 0532 0130 01")


def test_log_filter_masks_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("replydesk.test")
    record = logger.makeRecord(
        "replydesk.test", logging.INFO, __file__, 1, "buyer %s wrote", ("anna@example.com",), None
    )
    RedactingFilter().filter(record)
    assert "anna@example.com" not in record.getMessage()


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("If this is not fixed I will contact my lawyer.", "legal_threat"),
        ("Ich gehe jetzt zur Verbraucherzentrale.", "legal_threat"),
        ("Voy a poner una denuncia.", "legal_threat"),
        ("I will do a chargeback with my bank.", "chargeback_threat"),
        ("Je vais faire opposition bancaire.", "chargeback_threat"),
        ("The charger caught fire.", "safety_issue"),
        ("Das Ladegerät hat Feuer gefangen.", "safety_issue"),
        ("充電器から煙が出ました。", "safety_issue"),
        ("I want to speak to a real person.", "human_requested"),
        ("This is the third time I am writing to you.", "repeat_contact"),
        ("You are useless idiots.", "abusive"),
    ],
)
def test_flags_found(text: str, flag: str) -> None:
    assert flag in {h.flag.value for h in find_escalations(text)}


@pytest.mark.parametrize(
    "text",
    [
        "No need to call a lawyer, haha, just tell me where it is.",
        "I don't want to open a PayPal dispute, just tell me when the refund comes.",
        "ご担当者様、注文した商品が届きません。",
        "The lamp is brand new and works fine.",
    ],
)
def test_no_false_alarm(text: str) -> None:
    flags = {h.flag.value for h in find_escalations(text)}
    assert not flags & {"legal_threat", "chargeback_threat", "human_requested", "safety_issue"}


def test_negation_only_applies_close_to_the_hit() -> None:
    flags = {h.flag.value for h in find_escalations("It has not arrived and I will call my lawyer tomorrow.")}
    assert "legal_threat" in flags


def test_case_does_not_matter_and_patterns_survive_lowercasing() -> None:
    import re

    from app.triage.rules import LEXICONS

    # Lower-casing a pattern must not change an escape's meaning (\S would become \s).
    assert all(not re.search(r"\\[A-Z]", p.pattern) for p in LEXICONS.values())
    assert "legal_threat" in {h.flag.value for h in find_escalations("I WILL CALL MY LAWYER AND THE CNIL")}
    # A character whose lower case is longer (İ) takes the case-insensitive path and still matches.
    assert "legal_threat" in {h.flag.value for h in find_escalations("İstanbul'dan yazıyorum, avukatıma gideceğim")}


def test_printed_settings_hide_secrets() -> None:
    from app.settings import Settings

    shown = Settings(
        database_url="postgresql+asyncpg://rd:s3cret@db.internal/replydesk", llm_api_key="sk-abc"
    ).public_dict()
    assert "s3cret" not in str(shown)
    assert "sk-abc" not in str(shown)
    assert shown["database_url"] == "postgresql+asyncpg://***@db.internal/replydesk"
