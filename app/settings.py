"""One typed settings object, read from the environment (``REPLYDESK_*``) once.

A ``.env`` file in the working directory is read as a fallback: real environment variables win.
Nothing else in the code base reads ``os.environ``. The README's settings table is generated
from the field descriptions here (``replydesk settings --markdown``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.taxonomy import Channel, Intent, Urgency

# Minutes from receipt to the first answer, per urgency and channel.
DEFAULT_SLA_MINUTES: dict[str, dict[str, int]] = {
    Urgency.URGENT: {Channel.CHAT: 15, Channel.SOCIAL: 30, Channel.EMAIL: 60, Channel.MARKETPLACE_MESSAGE: 60},
    Urgency.HIGH: {Channel.CHAT: 60, Channel.SOCIAL: 120, Channel.EMAIL: 240, Channel.MARKETPLACE_MESSAGE: 240},
    Urgency.NORMAL: {Channel.CHAT: 240, Channel.SOCIAL: 480, Channel.EMAIL: 1440, Channel.MARKETPLACE_MESSAGE: 1440},
    Urgency.LOW: {Channel.CHAT: 1440, Channel.SOCIAL: 1440, Channel.EMAIL: 2880, Channel.MARKETPLACE_MESSAGE: 2880},
}

DEFAULT_QUEUES: dict[str, str] = {
    Intent.ORDER_STATUS: "orders",
    Intent.DELIVERY_DELAYED: "orders",
    Intent.NOT_RECEIVED: "orders",
    Intent.CHANGE_ADDRESS: "orders",
    Intent.CHANGE_ORDER: "orders",
    Intent.CANCEL_ORDER: "orders",
    Intent.SHIPPING_CUSTOMS: "orders",
    Intent.DAMAGED_ITEM: "returns_refunds",
    Intent.WRONG_ITEM: "returns_refunds",
    Intent.MISSING_ITEM: "returns_refunds",
    Intent.RETURN_REQUEST: "returns_refunds",
    Intent.REFUND_STATUS: "returns_refunds",
    Intent.WARRANTY_CLAIM: "returns_refunds",
    Intent.PAYMENT_ISSUE: "payments",
    Intent.INVOICE_REQUEST: "payments",
    Intent.PROMOTION_COUPON: "payments",
    Intent.ACCOUNT_ACCESS: "account",
    Intent.PRIVACY_REQUEST: "privacy",
    Intent.SELLER_DISPUTE: "disputes",
    Intent.BUYER_PROTECTION_CLAIM: "disputes",
    Intent.COMPLAINT: "disputes",
    Intent.PRODUCT_QUESTION: "general",
    Intent.FEEDBACK_PRAISE: "general",
    Intent.OTHER: "general",
}

# Escalation flags that route a ticket to a dedicated queue whatever its intent (first match wins).
DEFAULT_ESCALATION_QUEUES: dict[str, str] = {
    "safety_issue": "trust_and_safety",
    "legal_threat": "escalations",
    "chargeback_threat": "escalations",
}


class Settings(BaseSettings):
    """Every knob of the service. Environment variable = ``REPLYDESK_`` + field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix="REPLYDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- service ---
    host: str = Field("127.0.0.1", description="Address `replydesk serve` binds to.")
    port: int = Field(8000, description="Port `replydesk serve` listens on.")
    workers: int = Field(1, description="Server worker processes (use a Chroma server and PostgreSQL above 1).")
    log_level: str = Field("INFO", description="Python log level.")
    data_dir: Path = Field(Path("data"), description="Where the SQLite file, Chroma index, models and caches live.")
    database_url: str = Field(
        "",
        description="SQLAlchemy async URL. Empty: SQLite file `<data_dir>/replydesk.db`. "
        "PostgreSQL: `postgresql+asyncpg://user:pass@host/db`.",
    )
    database_pool_size: int = Field(10, description="Connection pool size (PostgreSQL).")
    max_body_bytes: int = Field(2_000_000, description="Largest accepted request body; larger gets 413.")
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list). Empty: CORS closed."
    )
    rate_limit_per_minute: int = Field(600, description="Requests per minute per API key (0 = unlimited).")
    bootstrap_api_key_file: Path | None = Field(
        None, description="Where `replydesk setup` writes the first local admin key. Default `<data_dir>/api-key.txt`."
    )

    # --- triage ---
    triage_model: Path | None = Field(
        None, description="Directory of a trained triage model. Default `<data_dir>/models/triage`."
    )
    triage_dataset: Path = Field(
        Path("evals/datasets/triage"), description="Labeled tickets the default triage model is trained from."
    )
    sla_minutes: dict[str, dict[str, int]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_SLA_MINUTES.items()},
        description="SLA table (JSON): urgency -> channel -> minutes to first answer.",
    )
    queues: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_QUEUES), description="Routing (JSON): intent -> queue."
    )
    escalation_queues: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ESCALATION_QUEUES),
        description="Routing overrides (JSON): escalation flag -> queue.",
    )

    # --- knowledge base and retrieval ---
    kb_sources: Path = Field(Path("kb_sources"), description="Directory `replydesk kb ingest` reads by default.")
    chroma_url: str = Field("", description="Chroma server URL (`http://127.0.0.1:8001`). Empty: embedded on disk.")
    chroma_collection: str = Field("replydesk_kb", description="Prefix of the Chroma collections the KB uses.")
    embeddings: str = Field(
        "bundled",
        description="`bundled` (multilingual USE, offline) or `openai:<model>` (uses the LLM endpoint settings).",
    )
    chunk_tokens: int = Field(220, description="Target chunk size in tokens (cl100k_base).")
    chunk_overlap_tokens: int = Field(30, description="Token overlap between neighbouring chunks.")
    search_max_query_tokens: int = Field(
        512,
        description="Queries longer than this (about 2,000 characters of English) are truncated, and the answer says so.",
    )

    # --- drafting and the LLM ---
    llm_base_url: str = Field("", description="OpenAI-compatible base URL. Empty: no LLM, template drafts only.")
    llm_api_key: str = Field("", description="API key for the LLM endpoint (never logged).")
    llm_model: str = Field("gpt-4o-mini", description="Chat model name.")
    llm_timeout_s: float = Field(20.0, description="Per-call timeout in seconds.")
    llm_max_retries: int = Field(2, description="Retries on 429/5xx/timeouts (the SDK honours Retry-After).")
    llm_max_tokens: int = Field(700, description="Most tokens a draft may use.")
    llm_temperature: float = Field(0.2, description="Sampling temperature.")
    llm_concurrency: int = Field(8, description="Most LLM calls in flight at once (evals and batch work).")
    llm_input_cost_per_mtok: float = Field(0.15, description="Cost estimate: USD per million prompt tokens.")
    llm_output_cost_per_mtok: float = Field(0.60, description="Cost estimate: USD per million completion tokens.")
    prompt_token_budget: int = Field(3000, description="Most prompt tokens; passages are trimmed by relevance.")
    draft_passages: int = Field(6, description="Passages retrieved for a draft.")
    draft_max_chars: int = Field(2500, description="Longest acceptable draft body.")
    agent_language: str = Field("en", description="Language drafts are translated into for agents on request.")

    # --- evals ---
    judge_base_url: str = Field("", description="OpenAI-compatible URL of an LLM judge. Empty: no judge.")
    judge_api_key: str = Field("", description="API key of the judge endpoint.")
    judge_model: str = Field("gpt-4o-mini", description="Judge model name.")
    judge_concurrency: int = Field(4, description="Most judge calls in flight at once.")

    @field_validator("data_dir", "kb_sources", "triage_dataset")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # Derived values live here so every caller agrees on them.
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'replydesk.db'}"

    @property
    def resolved_triage_model(self) -> Path:
        return (self.triage_model or self.data_dir / "models" / "triage").expanduser().resolve()

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def tiktoken_cache_dir(self) -> Path:
        return self.data_dir / "tiktoken"

    @property
    def resolved_api_key_file(self) -> Path:
        return self.bootstrap_api_key_file or self.data_dir / "api-key.txt"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)

    def public_dict(self) -> dict[str, Any]:
        """Settings without secrets, for logs and `/ready`."""
        data = self.model_dump(mode="json")
        for key in ("llm_api_key", "judge_api_key"):
            if data.get(key):
                data[key] = "***"
        data["database_url"] = masked_url(data["database_url"])
        return data


def masked_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***`` (for logs and printed settings)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
