"""A real OpenAI-compatible HTTP server for tests: the drafter talks to it through the real SDK.

    with FakeLLM() as fake:                      # 127.0.0.1, a free port, its own thread
        settings = make_settings(llm_base_url=fake.base_url)
        fake.script(status(500), slow(3.0), reply({...}))   # one behaviour per request, in order
        ...
        fake.seen                                # every request body, parsed, in arrival order

``POST /v1/chat/completions`` answers as JSON, or as server-sent events when the request has
``"stream": true`` (``data: {chunk}`` lines ending with ``data: [DONE]``); ``POST /v1/embeddings``
answers with small deterministic vectors. When the script is empty the server plays a well-behaved
model (``grounded``): it reads the required language, the passage refs (``[P1]`` …) and the name
placeholder from the prompt and answers with canned sentences in that language, citing the refs;
a translation request is answered by mapping those canned sentences into the target language.

Every behaviour is a function of the request (``Seen``), so a test can write a model as hostile
or as clumsy as it likes. Slow answers wait on an event that ``close()`` sets, and the server joins
its handler threads on close, so no thread or socket outlives the fixture.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "CANNED",
    "Behaviour",
    "FakeLLM",
    "Seen",
    "canned_body",
    "echo",
    "fake_llm",
    "grounded",
    "raw",
    "reply",
    "slow",
    "status",
]


# ---------------------------------------------------------------- what the server saw
@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    def _role(self, role: str) -> str:
        return "\n".join(str(m.get("content") or "") for m in self.messages if m.get("role") == role)

    @property
    def system(self) -> str:
        return self._role("system")

    @property
    def user(self) -> str:
        return self._role("user")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def kind(self) -> str:
        """``reply``, ``repair``, ``translate`` or ``embeddings``: what the client asked for."""
        if self.path.endswith("/embeddings"):
            return "embeddings"
        if "response_format" not in self.body:
            return "translate"
        return "repair" if "DRAFT TO FIX" in self.user else "reply"

    @property
    def text(self) -> str:
        """The whole body as readable text (no \\u escapes): what tests search for leaks."""
        return json.dumps(self.body, ensure_ascii=False)

    # ---- what the prompt asks for ----
    @property
    def language(self) -> str:
        if self.kind == "translate":
            match = re.search(r"into .+? \(([a-z]{2})\)", self.system)
        elif self.kind == "repair":
            match = re.search(r"REQUIRED LANGUAGE: ([a-z]{2})", self.user)
        else:
            match = re.search(r"Write in .+? \(([a-z]{2})\)", self.system)
        return match.group(1) if match else "en"

    @property
    def passage_refs(self) -> list[str]:
        if self.kind == "repair":
            match = re.search(r"VALID PASSAGE IDS: (.*)", self.user)
            return re.findall(r"P\d+", match.group(1)) if match else []
        return re.findall(r"^\[(P\d+)\]", self.user, re.M)

    @property
    def name_placeholder(self) -> str | None:
        match = re.search(r"by name \((\[NAME_\d+\])\)", self.system) or re.search(r"\[NAME_\d+\]", self.user)
        return (match.group(1) if match.groups() else match.group(0)) if match else None

    @property
    def buyer_message(self) -> str:
        match = re.search(r"<<<BUYER_MESSAGE\n(.*?)\nBUYER_MESSAGE>>>", self.user, re.S)
        return match.group(1) if match else ""

    @property
    def draft_to_fix(self) -> dict[str, Any]:
        """The JSON draft a repair request carries."""
        match = re.search(r"DRAFT TO FIX:\s*(\{.*\})\s*$", self.user, re.S)
        return json.loads(match.group(1)) if match else {}

    @property
    def problems(self) -> list[str]:
        match = re.search(r"PROBLEMS FOUND:\n(.*?)\nDRAFT TO FIX:", self.user, re.S)
        return [line[2:] for line in match.group(1).splitlines() if line.startswith("- ")] if match else []


# ---------------------------------------------------------------- canned, parallel sentences
# The same five lines in every language (index for index), so a "translation" is a lookup.
# No numbers, dates, amounts or promises: a grounded draft must pass every check.
CANNED: dict[str, dict[str, Any]] = {
    "en": {
        "hello": "Hello {name},",
        "hello_anon": "Hello,",
        "lines": [
            "Thank you for contacting us about your order.",
            "I have looked at your request together with the policy that applies to it.",
            "Our team will check the remaining details and get back to you as soon as possible.",
        ],
        "closing": "If anything is unclear, just reply to this message and I will be glad to help.",
        "signoff": "Kind regards,\nTradewind Customer Service",
    },
    "de": {
        "hello": "Guten Tag {name},",
        "hello_anon": "Guten Tag,",
        "lines": [
            "Vielen Dank für Ihre Nachricht zu Ihrer Bestellung.",
            "Ich habe mir Ihr Anliegen zusammen mit den Regeln angesehen, die dafür gelten.",
            "Unser Team prüft die übrigen Einzelheiten und meldet sich so bald wie möglich bei Ihnen.",
        ],
        "closing": ("Wenn etwas unklar ist, antworten Sie einfach auf diese Nachricht, ich helfe Ihnen gern weiter."),
        "signoff": "Mit freundlichen Grüßen\nIhr Tradewind Kundenservice",
    },
    "fr": {
        "hello": "Bonjour {name},",
        "hello_anon": "Bonjour,",
        "lines": [
            "Merci de nous avoir contactés au sujet de votre commande.",
            "J'ai examiné votre demande ainsi que les règles qui s'y appliquent.",
            "Notre équipe va vérifier les derniers détails et reviendra vers vous dès que possible.",
        ],
        "closing": ("Si quelque chose n'est pas clair, répondez simplement à ce message, je vous aiderai volontiers."),
        "signoff": "Cordialement,\nLe service client Tradewind",
    },
    "es": {
        "hello": "Hola, {name}:",
        "hello_anon": "Hola:",
        "lines": [
            "Gracias por ponerse en contacto con nosotros sobre su pedido.",
            "He revisado su solicitud junto con las normas que se aplican a ella.",
            "Nuestro equipo comprobará los detalles pendientes y le responderá lo antes posible.",
        ],
        "closing": "Si algo no queda claro, responda a este mensaje y le ayudaré con mucho gusto.",
        "signoff": "Un saludo,\nAtención al cliente de Tradewind",
    },
    "it": {
        "hello": "Buongiorno {name},",
        "hello_anon": "Buongiorno,",
        "lines": [
            "La ringraziamo per averci contattato riguardo al Suo ordine.",
            "Ho esaminato la Sua richiesta insieme alle regole che si applicano a questo caso.",
            "Il nostro team verificherà i dettagli mancanti e Le risponderà il prima possibile.",
        ],
        "closing": "Se qualcosa non è chiaro, risponda pure a questo messaggio e sarò lieto di aiutarLa.",
        "signoff": "Cordiali saluti,\nServizio clienti Tradewind",
    },
    "nl": {
        "hello": "Beste {name},",
        "hello_anon": "Beste klant,",
        "lines": [
            "Bedankt voor uw bericht over uw bestelling.",
            "Ik heb uw vraag bekeken samen met de regels die daarvoor gelden.",
            "Ons team controleert de overige gegevens en neemt zo snel mogelijk contact met u op.",
        ],
        "closing": "Als iets niet duidelijk is, beantwoord dan gewoon dit bericht en ik help u graag verder.",
        "signoff": "Met vriendelijke groet,\nTradewind Klantenservice",
    },
    "pl": {
        "hello": "Dzień dobry, {name},",
        "hello_anon": "Dzień dobry,",
        "lines": [
            "Dziękujemy za kontakt w sprawie Państwa zamówienia.",
            "Przeanalizowałem Państwa zgłoszenie razem z zasadami, które go dotyczą.",
            "Nasz zespół sprawdzi pozostałe szczegóły i skontaktuje się z Państwem tak szybko, jak to możliwe.",
        ],
        "closing": "Jeśli coś jest niejasne, wystarczy odpowiedzieć na tę wiadomość, a chętnie pomogę.",
        "signoff": "Z poważaniem,\nObsługa klienta Tradewind",
    },
    "pt": {
        "hello": "Olá, {name},",
        "hello_anon": "Olá,",
        "lines": [
            "Obrigado por nos contactar sobre a sua encomenda.",
            "Analisei o seu pedido juntamente com as regras que se aplicam a ele.",
            "A nossa equipa vai verificar os restantes detalhes e responder-lhe assim que possível.",
        ],
        "closing": (
            "Se alguma coisa não estiver clara, basta responder a esta mensagem e terei todo o gosto em ajudar."
        ),
        "signoff": "Com os melhores cumprimentos,\nApoio ao cliente Tradewind",
    },
    "ja": {
        "hello": "{name}様",
        "hello_anon": "お客様",
        "lines": [
            "ご注文についてお問い合わせいただき、ありがとうございます。",
            "いただいた内容を、該当する規定とあわせて確認いたしました。",
            "担当チームが残りの詳細を確認し、できるだけ早くご連絡いたします。",
        ],
        "closing": "ご不明な点がございましたら、このメッセージにご返信ください。",
        "signoff": "Tradewind カスタマーサービス",
    },
}


def canned_sentences(language: str, refs: list[str], name: str | None) -> list[dict[str, Any]]:
    """A well-formed reply: greeting, three lines (two citing passages), closing, sign-off."""
    book = CANNED.get(language, CANNED["en"])
    greeting = book["hello"].format(name=name) if name else book["hello_anon"]
    first = refs[:1]
    second = refs[1:2] or first
    return [
        {"text": greeting, "passage_ids": []},
        {"text": book["lines"][0], "passage_ids": []},
        {"text": book["lines"][1], "passage_ids": first},
        {"text": book["lines"][2], "passage_ids": second},
        {"text": book["closing"], "passage_ids": []},
        {"text": book["signoff"], "passage_ids": []},
    ]


def canned_body(language: str, name: str | None) -> str:
    """The draft body ``app.drafts.llm_generator`` builds from ``canned_sentences``."""
    book = CANNED.get(language, CANNED["en"])
    greeting = book["hello"].format(name=name) if name else book["hello_anon"]
    return f"{greeting}\n\n{' '.join(book['lines'])} {book['closing']} {book['signoff']}"


def _translate(text: str, target: str) -> str:
    """Replace every canned sentence (in any language) with its ``target`` twin."""
    out = text
    goal = CANNED.get(target, CANNED["en"])
    for book in CANNED.values():
        pairs = [
            *zip(book["lines"], goal["lines"], strict=True),
            (book["closing"], goal["closing"]),
            (book["signoff"], goal["signoff"]),
        ]
        for source, translated in pairs:
            out = out.replace(source, translated)
        hello = re.escape(book["hello"]).replace(r"\{name\}", "(?P<name>.+?)")
        out = re.sub(f"^{hello}$", lambda m: goal["hello"].format(name=m.group("name")), out, flags=re.M)
        out = re.sub(f"^{re.escape(book['hello_anon'])}$", goal["hello_anon"], out, flags=re.M)
    return out


# ---------------------------------------------------------------- behaviours
Content = str | Callable[[Seen], str]


@dataclass
class Behaviour:
    """What the server does with one request."""

    status: int = 200
    content: Content | None = None  # None: the grounded default
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    completion_tokens: int | None = None  # reported in "usage"; default: len(content) // 4
    label: str = ""

    def render(self, seen: Seen) -> str:
        if self.content is None:
            return grounded_content(seen)
        return self.content(seen) if callable(self.content) else self.content


def grounded_content(seen: Seen, *, language: str | None = None, refs: list[str] | None = None) -> str:
    if seen.kind == "translate":
        body = seen.user
        return _translate(body, seen.language)
    sentences = canned_sentences(
        language or seen.language, seen.passage_refs if refs is None else refs, seen.name_placeholder
    )
    return json.dumps({"language": language or seen.language, "sentences": sentences}, ensure_ascii=False)


def grounded(
    *, language: str | None = None, refs: list[str] | None = None, completion_tokens: int | None = None
) -> Behaviour:
    """A well-behaved model; ``language``/``refs`` override what the prompt asked for."""
    return Behaviour(
        content=lambda seen: grounded_content(seen, language=language, refs=refs),
        completion_tokens=completion_tokens,
        label="grounded",
    )


def reply(
    payload: dict[str, Any] | Callable[[Seen], dict[str, Any]], *, completion_tokens: int | None = None
) -> Behaviour:
    """Answer with this JSON object as the message content."""
    if callable(payload):
        fn = payload
        return Behaviour(
            content=lambda seen: json.dumps(fn(seen), ensure_ascii=False),
            completion_tokens=completion_tokens,
            label="reply",
        )
    text = json.dumps(payload, ensure_ascii=False)
    return Behaviour(content=text, completion_tokens=completion_tokens, label="reply")


def raw(text: str) -> Behaviour:
    """Answer with exactly this message content (malformed JSON, prose, an empty string…)."""
    return Behaviour(content=text, label="raw")


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Wait before answering: longer than the client's timeout, this is a timeout."""
    base = then or Behaviour()
    return Behaviour(
        status=base.status,
        content=base.content,
        delay_s=seconds,
        headers=base.headers,
        completion_tokens=base.completion_tokens,
        label="slow",
    )


def status(code: int, *, retry_after: float | None = None, message: str = "fake failure") -> Behaviour:
    """An HTTP error with an OpenAI-shaped error body (and ``Retry-After`` if given)."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    body = json.dumps({"error": {"message": message, "type": "fake_error", "param": None, "code": str(code)}})
    return Behaviour(status=code, content=body, headers=headers, label=f"http {code}")


def echo() -> Behaviour:
    """A parrot: every line of the buyer's message comes back as a sentence of the reply."""

    def content(seen: Seen) -> str:
        source = seen.buyer_message or seen.user
        lines = [line.strip() for line in source.splitlines() if line.strip()]
        return json.dumps(
            {"language": seen.language, "sentences": [{"text": line, "passage_ids": []} for line in lines]},
            ensure_ascii=False,
        )

    return Behaviour(content=content, label="echo")


# ---------------------------------------------------------------- the server
class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are joined on close: nothing outlives the fixture
    block_on_close = True
    fake: FakeLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Kept for the test to assert on, instead of a traceback on stderr nobody reads.
        self.fake.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # One request per connection: an idle keep-alive connection would hold a handler thread
    # (and so ``close()``) until the client let go of it.
    protocol_version = "HTTP/1.0"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw_body or b"{}")
        except json.JSONDecodeError:
            body = {"_unparsed": raw_body.decode("utf-8", "replace")}
        seen = Seen(self.path, body, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
        fake = self.server.fake
        behaviour = fake._record(seen)
        try:
            if self.path.rstrip("/").endswith("/embeddings"):
                self._embeddings(seen)
            elif self.path.rstrip("/").endswith("/chat/completions"):
                self._chat(seen, behaviour)
            else:
                self._send(
                    404,
                    json.dumps({"error": {"message": f"no route {self.path}", "type": "not_found"}}).encode(),
                )
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout): that is the point of a slow behaviour.
            fake.disconnects += 1

    def _send(
        self,
        code: int,
        payload: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _embeddings(self, seen: Seen) -> None:
        inputs = seen.body.get("input") or []
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        data = []
        for i, text in enumerate(items):
            vector = [0.0] * 16
            for j, ch in enumerate(str(text)):
                vector[(ord(ch) + j) % 16] += 1.0
            norm = sum(v * v for v in vector) ** 0.5 or 1.0
            data.append({"object": "embedding", "index": i, "embedding": [v / norm for v in vector]})
        usage = {
            "prompt_tokens": sum(len(str(t)) // 4 for t in items),
            "total_tokens": sum(len(str(t)) // 4 for t in items),
        }
        self._send(
            200,
            json.dumps(
                {"object": "list", "data": data, "model": seen.body.get("model", "fake"), "usage": usage}
            ).encode(),
        )

    def _chat(self, seen: Seen, behaviour: Behaviour) -> None:
        fake = self.server.fake
        if behaviour.delay_s and fake._stopping.wait(behaviour.delay_s):
            return  # the fake is closing: drop the request
        content = behaviour.render(seen)
        if behaviour.status != 200:
            self._send(behaviour.status, content.encode(), behaviour.headers)
            return
        model = str(seen.body.get("model", "fake-model"))
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in seen.messages) // 4
        completion = (
            behaviour.completion_tokens if behaviour.completion_tokens is not None else max(1, len(content) // 4)
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        }
        ident = f"chatcmpl-fake-{len(fake.seen)}"
        if not seen.stream:
            payload = {
                "id": ident,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            }
            self._send(200, json.dumps(payload, ensure_ascii=False).encode(), behaviour.headers)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        for key, value in behaviour.headers.items():
            self.send_header(key, value)
        self.end_headers()

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

        event({"role": "assistant", "content": ""})
        step = fake.stream_chunk_chars
        for start in range(0, len(content), step):
            event({"content": content[start : start + step]})
        event({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class FakeLLM:
    """The server, its script of behaviours and everything it received."""

    def __init__(self, *, stream_chunk_chars: int = 7) -> None:
        self.seen: list[Seen] = []
        self.errors: list[str] = []  # exceptions raised while handling a request
        self.disconnects = 0
        self.stream_chunk_chars = stream_chunk_chars
        self.default: Behaviour = Behaviour(label="grounded")
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )

    # ---- lifecycle ----
    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """What ``llm_base_url`` should be set to."""
        return self.url + "/v1"

    # ---- scenario control ----
    def script(self, *behaviours: Behaviour) -> FakeLLM:
        """Queue behaviours for the next requests, in order; then the default applies again."""
        with self._lock:
            self._queue.extend(behaviours)
        return self

    def always(self, behaviour: Behaviour) -> FakeLLM:
        """The behaviour for every request once the script is used up."""
        self.default = behaviour
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.seen.clear()
            self.errors.clear()
            self.disconnects = 0
            self.default = Behaviour(label="grounded")

    @property
    def pending(self) -> int:
        """Scripted behaviours not used yet (a test can assert its script was consumed)."""
        return len(self._queue)

    def _record(self, seen: Seen) -> Behaviour:
        with self._lock:
            self.seen.append(seen)
            if seen.path.rstrip("/").endswith("/chat/completions") and self._queue:
                return self._queue.popleft()
            return self.default

    # ---- what it received ----
    def calls(self, kind: str | None = None) -> list[Seen]:
        return [s for s in self.seen if kind is None or s.kind == kind]

    def all_text(self) -> str:
        return "\n".join(s.text for s in self.seen)

    def __iter__(self) -> Iterator[Seen]:
        return iter(list(self.seen))


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fresh fake OpenAI-compatible server for one test."""
    with FakeLLM() as fake:
        yield fake
