"""Language identification rules and the cleaning of e-mails before classification."""

from __future__ import annotations

import pytest

from app.triage.language import LanguageIdentifier
from app.triage.text import classifier_text, strip_quotes_and_signature


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Wo ist mein Paket? Ich warte seit einer Woche.", "de"),
        ("Où est mon colis ? J'attends depuis une semaine.", "fr"),
        ("Dov'è il mio pacco? Aspetto da una settimana.", "it"),
        ("Waar is mijn pakket? Ik wacht al een week.", "nl"),
        ("Gdzie jest moja paczka? Czekam już tydzień.", "pl"),
        ("Siparişim nerede? Bir haftadır bekliyorum.", "tr"),
        ("Где моя посылка? Жду уже неделю.", "ru"),
        ("أين طردي؟ أنتظر منذ أسبوع.", "ar"),
        ("我的包裹在哪里？我已经等了一个星期。", "zh"),
        ("荷物はどこですか？一週間待っています。", "ja"),
        ("제 택배는 어디에 있나요? 일주일째 기다리고 있어요.", "ko"),
        ("👍👍", "und"),
        ("ok Привет", "und"),
    ],
)
def test_identify(identifier: LanguageIdentifier, text: str, code: str) -> None:
    assert identifier.identify(text).code == code


def test_hint_decides_short_text(identifier: LanguageIdentifier) -> None:
    assert identifier.identify("Hallo", hint="de-DE").code == "de"


def test_quotes_and_signatures_are_removed() -> None:
    email = "Where is my refund?\n\nSent from my iPhone\n\n> On 3 Oct, Tradewind Support wrote:\n> Your return was received."
    assert strip_quotes_and_signature(email) == "Where is my refund?"
    reply_header = (
        "Still broken.\nAm 3. Oktober 2026 schrieb Tradewind Support <support@tradewind.example>:\nIhre Rücksendung..."
    )
    assert strip_quotes_and_signature(reply_header) == "Still broken."


def test_subject_is_prepended_once() -> None:
    assert classifier_text("Broken kettle, lid cracked", "Broken kettle") == "Broken kettle, lid cracked"
    assert classifier_text("The lid is cracked", "Broken kettle") == "Broken kettle\nThe lid is cracked"
