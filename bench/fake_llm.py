"""A minimal OpenAI-compatible chat server for benchmarks: no model, fixed answers, on 127.0.0.1.

    .venv/bin/python bench/fake_llm.py --port 8090 [--latency 1.0] [--token-delay 0]

``POST /v1/chat/completions`` answers plain or ``stream=true`` (server-sent events, chunked) with
a valid draft-reply JSON ``{"language", "sentences": [{"text", "passage_ids": ["P1"]}]}`` in the
language the prompt asks for ("Write in German (de)" / "REQUIRED LANGUAGE: de"); a request
without ``response_format`` (the translation prompt) gets plain text. ``--latency`` delays every
answer (before the first byte); ``--token-delay`` spaces the streamed pieces. ``GET /stats``
reports calls, peak concurrency and prompt sizes; ``GET /health`` answers ok.

The sentences carry no numbers, dates or promises, so the service's guardrails accept them: a
benchmark measures the service's own overhead, not repairs and fallbacks.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"

# Greeting, three sentences citing P1, closing, signature: 3 core sentences for the language check.
REPLIES: dict[str, list[str]] = {
    "en": [
        "Hello,",
        "Thank you for contacting us about your order.",
        "We have looked into your request and the relevant policy applies to your case.",
        "Our team will check the details and come back to you as soon as possible.",
        "Kind regards,",
        "Tradewind Customer Service",
    ],
    "de": [
        "Guten Tag,",
        "vielen Dank für Ihre Nachricht zu Ihrer Bestellung.",
        "Wir haben Ihr Anliegen geprüft, und die entsprechende Richtlinie gilt für Ihren Fall.",
        "Unser Team prüft die Einzelheiten und meldet sich so schnell wie möglich bei Ihnen.",
        "Mit freundlichen Grüßen,",
        "Ihr Tradewind Kundenservice",
    ],
    "es": [
        "Hola,",
        "Gracias por ponerse en contacto con nosotros sobre su pedido.",
        "Hemos revisado su solicitud y la política correspondiente se aplica a su caso.",
        "Nuestro equipo comprobará los detalles y le responderá lo antes posible.",
        "Atentamente,",
        "Atención al cliente de Tradewind",
    ],
    "fr": [
        "Bonjour,",
        "Merci de nous avoir contactés au sujet de votre commande.",
        "Nous avons examiné votre demande et la politique correspondante s'applique à votre cas.",
        "Notre équipe va vérifier les détails et reviendra vers vous dès que possible.",
        "Cordialement,",
        "Le service client Tradewind",
    ],
    "it": [
        "Buongiorno,",
        "grazie per averci contattato in merito al suo ordine.",
        "Abbiamo esaminato la sua richiesta e la politica pertinente si applica al suo caso.",
        "Il nostro team verificherà i dettagli e le risponderà il prima possibile.",
        "Cordiali saluti,",
        "Servizio clienti Tradewind",
    ],
    "pt": [
        "Olá,",
        "obrigado por entrar em contacto connosco sobre a sua encomenda.",
        "Analisámos o seu pedido e a política correspondente aplica-se ao seu caso.",
        "A nossa equipa vai verificar os detalhes e responderá o mais rapidamente possível.",
        "Com os melhores cumprimentos,",
        "Apoio ao cliente Tradewind",
    ],
    "nl": [
        "Goedendag,",
        "bedankt voor uw bericht over uw bestelling.",
        "Wij hebben uw verzoek bekeken en het betreffende beleid is van toepassing op uw situatie.",
        "Ons team controleert de details en neemt zo snel mogelijk contact met u op.",
        "Met vriendelijke groet,",
        "Tradewind Klantenservice",
    ],
    "pl": [
        "Dzień dobry,",
        "dziękujemy za kontakt w sprawie Państwa zamówienia.",
        "Sprawdziliśmy Państwa zgłoszenie i odpowiednie zasady mają zastosowanie w tym przypadku.",
        "Nasz zespół sprawdzi szczegóły i odpowie tak szybko, jak to możliwe.",
        "Z poważaniem,",
        "Obsługa klienta Tradewind",
    ],
    "ja": [
        "お問い合わせいただきありがとうございます。",
        "ご注文の件について確認いたしました。",
        "該当するポリシーがお客様のケースに適用されます。",
        "担当チームが詳細を確認し、できるだけ早くご連絡いたします。",
        "よろしくお願いいたします。",
        "Tradewind カスタマーサービス",
    ],
    "zh": [
        "您好，",
        "感谢您就您的订单与我们联系。",
        "我们已经查看了您的请求，相关政策适用于您的情况。",
        "我们的团队会核实详细信息，并尽快回复您。",
        "此致敬礼，",
        "Tradewind 客户服务",
    ],
    "ko": [
        "안녕하세요,",
        "주문과 관련하여 문의해 주셔서 감사합니다.",
        "요청하신 내용을 검토했으며 해당 정책이 고객님의 경우에 적용됩니다.",
        "저희 팀이 세부 사항을 확인한 후 최대한 빨리 연락드리겠습니다.",
        "감사합니다,",
        "Tradewind 고객 서비스",
    ],
    "tr": [
        "Merhaba,",
        "siparişiniz hakkında bizimle iletişime geçtiğiniz için teşekkür ederiz.",
        "Talebinizi inceledik ve ilgili politika sizin durumunuz için geçerlidir.",
        "Ekibimiz ayrıntıları kontrol edecek ve en kısa sürede size dönüş yapacaktır.",
        "Saygılarımızla,",
        "Tradewind Müşteri Hizmetleri",
    ],
    "ru": [
        "Здравствуйте,",
        "благодарим Вас за обращение по поводу Вашего заказа.",
        "Мы рассмотрели Ваш запрос, и соответствующие правила применяются к Вашему случаю.",
        "Наша команда проверит подробности и ответит Вам как можно скорее.",
        "С уважением,",
        "Служба поддержки Tradewind",
    ],
    "ar": [
        "مرحباً،",
        "شكراً لتواصلك معنا بخصوص طلبك.",
        "لقد راجعنا طلبك وتنطبق السياسة ذات الصلة على حالتك.",
        "سيقوم فريقنا بالتحقق من التفاصيل والرد عليك في أقرب وقت ممكن.",
        "مع أطيب التحيات،",
        "خدمة عملاء Tradewind",
    ],
}
_LANGUAGE = [
    # Lazy, because names can hold parentheses themselves: "Write in Chinese (Simplified) (zh)".
    re.compile(r"Write in [^\n]*?\(([a-z]{2,3})\)"),  # the reply prompt
    re.compile(r"REQUIRED LANGUAGE: ([a-z]{2,3})"),  # the repair prompt
    re.compile(r"into [^\n]*?\(([a-z]{2,3})\)"),  # the translation prompt
]


def requested_language(messages: list[dict[str, Any]]) -> str:
    text = "\n".join(str(m.get("content", "")) for m in messages)
    for pattern in _LANGUAGE:
        match = pattern.search(text)
        if match and match.group(1) in REPLIES:
            return match.group(1)
    return "en"


def reply_json(language: str) -> str:
    lines = REPLIES[language]
    sentences = [{"text": t, "passage_ids": ["P1"] if 0 < i < len(lines) - 2 else []} for i, t in enumerate(lines)]
    return json.dumps({"language": language, "sentences": sentences}, ensure_ascii=False)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.stream_calls = 0
        self.text_calls = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.prompt_chars = 0

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {
                "calls": self.calls,
                "stream_calls": self.stream_calls,
                "text_calls": self.text_calls,
                "peak_in_flight": self.peak_in_flight,
                "prompt_chars": self.prompt_chars,
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real endpoint
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature; silence
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/stats":
            self._send(200, self.server.stats.as_dict())
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            request = json.loads(raw)
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON"}})
            return
        stats = self.server.stats
        messages = request.get("messages") or []
        stream = bool(request.get("stream"))
        structured = request.get("response_format") is not None
        with stats.lock:
            stats.calls += 1
            stats.stream_calls += stream
            stats.text_calls += not structured
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            stats.prompt_chars += sum(len(str(m.get("content", ""))) for m in messages)
        try:
            if self.server.latency:
                time.sleep(self.server.latency)
            language = requested_language(messages)
            content = reply_json(language) if structured else " ".join(REPLIES[language])
            model = str(request.get("model", "fake"))
            if stream:
                self._stream(content, model)
            else:
                prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
                completion_tokens = max(1, len(content) // 4)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-fake-{stats.calls}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    },
                )
        finally:
            with stats.lock:
                stats.in_flight -= 1

    def _stream(self, content: str, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self._chunk(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

        event({"role": "assistant", "content": ""})
        # Pieces of a few characters, about the size of real tokens.
        for start in range(0, len(content), 6):
            event({"content": content[start : start + 6]})
            if self.server.token_delay:
                time.sleep(self.server.token_delay)
        event({}, "stop")
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, latency: float, token_delay: float) -> None:
        super().__init__((HOST, port), Handler)
        self.latency = latency
        self.token_delay = token_delay
        self.stats = Stats()


class FakeLLM:
    """The fake server as a subprocess (its own GIL, like a remote endpoint)."""

    def __init__(self, *, latency: float = 0.0, token_delay: float = 0.0) -> None:
        self.latency = latency
        self.token_delay = token_delay
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> FakeLLM:
        import socket

        import httpx

        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--port",
                str(self.port),
                "--latency",
                str(self.latency),
                "--token-delay",
                str(self.token_delay),
            ]
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{HOST}:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("fake LLM did not start")

    def stats(self) -> dict[str, int]:
        import httpx

        data: dict[str, int] = httpx.get(f"http://{HOST}:{self.port}/stats", timeout=5).json()
        return data

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> FakeLLM:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--latency", type=float, default=0.0, help="Seconds before each answer.")
    p.add_argument("--token-delay", type=float, default=0.0, help="Seconds between streamed pieces.")
    args = p.parse_args()
    server = FakeServer(args.port, args.latency, args.token_delay)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
