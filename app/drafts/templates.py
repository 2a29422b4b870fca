"""Loading and rendering the localized reply phrase books in ``prompts/templates/<locale>.yaml``.

A phrase book holds greetings, openings, closings and one phrase per step of every reply plan.
Values are formatted per locale (dates with month names, decimal separators, money, payment
method names). Rendering a phrase whose placeholder has no value raises ``MissingValue``, so a
plan can never produce a reply with a hole in it.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "prompts" / "templates"
_FIELD = string.Formatter()
_MONEY_KEYS = re.compile(r"(_eur|^order_amount)$")


class MissingValue(KeyError):
    """A phrase needs a value the ticket and facts do not have."""


@dataclass(frozen=True, slots=True)
class PhraseBook:
    locale: str
    id: str
    version: str
    data: dict[str, Any]

    def text(self, section: str, key: str | None = None) -> str:
        node = self.data[section]
        value = node[key] if key is not None else node
        return str(value)

    def phrase(self, key: str) -> str:
        return str(self.data["phrases"][key])

    def has_phrase(self, key: str) -> bool:
        return key in self.data.get("phrases", {})

    # ---- formatting ----
    def format_date(self, value: date) -> str:
        months: list[str] = self.data["months"]
        return str(self.data["date_format"]).format(
            day=value.day, month=months[value.month - 1], year=value.year, month_number=value.month
        )

    def format_number(self, value: float) -> str:
        text = str(int(value)) if float(value).is_integer() else f"{value:.2f}"
        return text.replace(".", str(self.data.get("decimal_separator", ".")))

    def format_money(self, value: float) -> str:
        amount = f"{value:.2f}".replace(".", str(self.data.get("decimal_separator", ".")))
        return str(self.data.get("money_format", "{amount} EUR")).format(amount=amount)

    def format_value(self, key: str, value: Any) -> str:
        if isinstance(value, date):
            return self.format_date(value)
        if key == "payment_method_name":
            return str(self.data.get("payment_methods", {}).get(value, value))
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | float) and _MONEY_KEYS.search(key):
            return self.format_money(float(value))
        if isinstance(value, float):
            return self.format_number(value)
        return str(value)

    def render(self, template: str, values: dict[str, Any]) -> str:
        needed = [name for _, name, _, _ in _FIELD.parse(template) if name]
        filled: dict[str, str] = {}
        for name in needed:
            if name not in values or values[name] is None or values[name] == "":
                raise MissingValue(name)
            filled[name] = self.format_value(name, values[name])
        return template.format(**filled)

    def placeholders(self, template: str) -> list[str]:
        return [name for _, name, _, _ in _FIELD.parse(template) if name]


@lru_cache(maxsize=32)
def load_phrasebook(locale: str, directory: Path = TEMPLATES_DIR) -> PhraseBook:
    path = directory / f"{locale}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return PhraseBook(locale=str(data["locale"]), id=str(data["id"]), version=str(data["version"]), data=data)


def available_locales(directory: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))
