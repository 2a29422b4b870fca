"""Turn a raw buyer e-mail into the text the classifiers should read.

Quoted earlier replies and signatures repeat old content (often our own words) and would drag a
new message towards the intent of the thread's first message, so they are cut before features
are computed. The original text is always stored untouched.
"""

from __future__ import annotations

import re
import unicodedata

# A line that opens a quoted earlier message, in the languages we see most.
_REPLY_HEADER = re.compile(
    r"^\s*(?:"
    r"on .{3,120}wrote:|am .{3,120}schrieb.{0,60}:|el .{3,120}escribió:|le .{3,120}a écrit\s*:|"
    r"il .{3,120}ha scritto:|em .{3,120}escreveu:|op .{3,120}schreef.{0,40}:|"
    r"w dniu .{3,120}napisał.{0,20}:|.{0,60}\d{4}.{0,40}に.{0,40}書きました[:：]?|"
    r"-{2,}\s*(?:original message|ursprüngliche nachricht|mensaje original|message d'origine|"
    r"messaggio originale|mensagem original|oorspronkelijk bericht|wiadomość oryginalna)\s*-{2,}|"
    r"from:\s.+|von:\s.+|de:\s.+@.+|da:\s.+@.+|van:\s.+@.+|od:\s.+@.+"
    r")\s*$",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(
    r"^\s*(?:--\s*|__+|"
    r"sent from my \w+.*|von meinem \w+ gesendet.*|enviado desde mi \w+.*|envoyé de mon \w+.*|"
    r"inviato da(?:l mio)? \w+.*|enviado do meu \w+.*|verzonden vanaf mijn \w+.*|wysłano z \w+.*|"
    r"get outlook for \w+.*|\w+から送信.*)\s*$",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """NFC, control characters removed, runs of spaces collapsed. Content is not changed."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", text)
    return _BLANKS.sub("\n\n", text).strip()


def strip_quotes_and_signature(text: str) -> str:
    """Drop ``>``-quoted lines, everything after a reply header, and a trailing signature."""
    kept: list[str] = []
    for line in text.split("\n"):
        if _REPLY_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        if _SIGNATURE_START.match(line) and kept:
            break
        kept.append(line)
    body = "\n".join(kept).strip()
    # Never cut a message down to nothing: a quote-only message still means something.
    return body or text.strip()


def classifier_text(message: str, subject: str | None = None, *, body: str | None = None) -> str:
    """What the triage classifiers read: subject plus the new part of the message. ``body``:
    the message already cleaned with ``strip_quotes_and_signature(normalise(...))``."""
    body = body if body is not None else strip_quotes_and_signature(normalise(message))
    if subject and subject.strip():
        subject = normalise(subject)
        if not body.lower().startswith(subject.lower()):
            return f"{subject}\n{body}"
    return body
