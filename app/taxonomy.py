"""The shared vocabulary of Replydesk.

Every enumeration the API, the database, the prompts, the templates and the evals agree on is
defined here, once. Descriptions are one line each: prompts and the README render them.
"""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    ORDER_STATUS = "order_status"
    DELIVERY_DELAYED = "delivery_delayed"
    NOT_RECEIVED = "not_received"
    DAMAGED_ITEM = "damaged_item"
    WRONG_ITEM = "wrong_item"
    MISSING_ITEM = "missing_item"
    RETURN_REQUEST = "return_request"
    REFUND_STATUS = "refund_status"
    CANCEL_ORDER = "cancel_order"
    CHANGE_ORDER = "change_order"
    CHANGE_ADDRESS = "change_address"
    PAYMENT_ISSUE = "payment_issue"
    INVOICE_REQUEST = "invoice_request"
    ACCOUNT_ACCESS = "account_access"
    PRIVACY_REQUEST = "privacy_request"
    PRODUCT_QUESTION = "product_question"
    SELLER_DISPUTE = "seller_dispute"
    BUYER_PROTECTION_CLAIM = "buyer_protection_claim"
    WARRANTY_CLAIM = "warranty_claim"
    PROMOTION_COUPON = "promotion_coupon"
    SHIPPING_CUSTOMS = "shipping_customs"
    COMPLAINT = "complaint"
    FEEDBACK_PRAISE = "feedback_praise"
    OTHER = "other"


INTENT_DESCRIPTIONS: dict[Intent, str] = {
    Intent.ORDER_STATUS: "Where is my order / has it shipped / tracking, with no sign yet that it is late.",
    Intent.DELIVERY_DELAYED: "The parcel is late or tracking has stalled past the estimated delivery date.",
    Intent.NOT_RECEIVED: "Tracking says delivered (or the order is long overdue) but the buyer has nothing.",
    Intent.DAMAGED_ITEM: "The item arrived broken, defective on arrival, or in a damaged package.",
    Intent.WRONG_ITEM: "The buyer received a different item, size, colour or model than ordered.",
    Intent.MISSING_ITEM: "Part of the order, an accessory or one of several items is missing from the parcel.",
    Intent.RETURN_REQUEST: "The buyer wants to send an item back (change of mind, does not fit) or asks how to.",
    Intent.REFUND_STATUS: "The buyer asks when or whether a refund will arrive, or says it has not.",
    Intent.CANCEL_ORDER: "The buyer wants to cancel an order that has not been delivered yet.",
    Intent.CHANGE_ORDER: "The buyer wants to change items, size, colour or quantity of an open order.",
    Intent.CHANGE_ADDRESS: "The buyer wants to change the delivery address of an open order.",
    Intent.PAYMENT_ISSUE: "A payment failed, was charged twice, was declined, or the amount is wrong.",
    Intent.INVOICE_REQUEST: "The buyer needs an invoice, a VAT receipt or a corrected invoice.",
    Intent.ACCOUNT_ACCESS: "Login problems, password reset, 2FA, locked or compromised account.",
    Intent.PRIVACY_REQUEST: "GDPR-style request to access, export, correct or delete personal data.",
    Intent.PRODUCT_QUESTION: "A question about a product before or after purchase: size, compatibility, stock.",
    Intent.SELLER_DISPUTE: "The seller does not answer, refuses a return or refund, or behaves unfairly.",
    Intent.BUYER_PROTECTION_CLAIM: "The buyer asks the platform to step in under its buyer-protection guarantee.",
    Intent.WARRANTY_CLAIM: "The item broke after some use and the buyer invokes the warranty or guarantee.",
    Intent.PROMOTION_COUPON: "A coupon or discount code did not work, or a question about a promotion.",
    Intent.SHIPPING_CUSTOMS: "Customs duties, import fees, or a parcel held at customs.",
    Intent.COMPLAINT: "A general complaint about the service or experience with no more specific request.",
    Intent.FEEDBACK_PRAISE: "Thanks, praise or positive feedback.",
    Intent.OTHER: "Anything else, including spam and messages with no support request.",
}


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


URGENCY_ORDER: tuple[Urgency, ...] = (Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.URGENT)

URGENCY_DESCRIPTIONS: dict[Urgency, str] = {
    Urgency.LOW: "No time pressure: praise, general questions, feedback.",
    Urgency.NORMAL: "A usual support request that should be answered within the normal SLA.",
    Urgency.HIGH: "Money or a deadline at stake, a frustrated buyer, or a second contact.",
    Urgency.URGENT: "Safety risk, legal or chargeback threat, account takeover, or money lost right now.",
}


class Sentiment(StrEnum):
    VERY_NEGATIVE = "very_negative"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"
    VERY_POSITIVE = "very_positive"


SENTIMENT_ORDER: tuple[Sentiment, ...] = (
    Sentiment.VERY_NEGATIVE,
    Sentiment.NEGATIVE,
    Sentiment.NEUTRAL,
    Sentiment.POSITIVE,
    Sentiment.VERY_POSITIVE,
)

# The score in [-1, 1] that each sentiment label stands for.
SENTIMENT_SCORES: dict[Sentiment, float] = {
    Sentiment.VERY_NEGATIVE: -1.0,
    Sentiment.NEGATIVE: -0.5,
    Sentiment.NEUTRAL: 0.0,
    Sentiment.POSITIVE: 0.5,
    Sentiment.VERY_POSITIVE: 1.0,
}


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    MARKETPLACE_MESSAGE = "marketplace_message"


class EscalationFlag(StrEnum):
    LEGAL_THREAT = "legal_threat"
    CHARGEBACK_THREAT = "chargeback_threat"
    SAFETY_ISSUE = "safety_issue"
    HUMAN_REQUESTED = "human_requested"
    ABUSIVE = "abusive"
    REPEAT_CONTACT = "repeat_contact"
    VIP = "vip"


ESCALATION_DESCRIPTIONS: dict[EscalationFlag, str] = {
    EscalationFlag.LEGAL_THREAT: "Mentions a lawyer, court, lawsuit, consumer authority or legal action.",
    EscalationFlag.CHARGEBACK_THREAT: "Threatens or reports a chargeback, bank dispute or payment reversal.",
    EscalationFlag.SAFETY_ISSUE: "Injury, fire, smoke, electric shock, burns, choking, allergic reaction.",
    EscalationFlag.HUMAN_REQUESTED: "Asks for a human, a real person, a manager or a supervisor.",
    EscalationFlag.ABUSIVE: "Insults or threatens staff.",
    EscalationFlag.REPEAT_CONTACT: "The buyer has written about this before (history or wording says so).",
    EscalationFlag.VIP: "The customer is on a VIP or premium tier.",
}


class ResponsibleParty(StrEnum):
    PLATFORM = "platform"
    SELLER = "seller"
    CARRIER = "carrier"
    UNKNOWN = "unknown"


class CustomerTier(StrEnum):
    STANDARD = "standard"
    PLUS = "plus"
    VIP = "vip"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    REFUNDED = "refunded"


class PaymentMethod(StrEnum):
    CARD = "card"
    PAYPAL = "paypal"
    BANK_TRANSFER = "bank_transfer"
    KLARNA = "klarna"
    APPLE_PAY = "apple_pay"
    GOOGLE_PAY = "google_pay"
    GIFT_CARD = "gift_card"


class PolicyType(StrEnum):
    RETURNS = "returns"
    REFUNDS = "refunds"
    SHIPPING = "shipping"
    LOST_PARCEL = "lost_parcel"
    CUSTOMS = "customs"
    CANCELLATION = "cancellation"
    ORDER_CHANGES = "order_changes"
    PAYMENTS = "payments"
    INVOICES = "invoices"
    DAMAGED_OR_WRONG_ITEM = "damaged_or_wrong_item"
    BUYER_PROTECTION = "buyer_protection"
    DISPUTES = "disputes"
    SELLER_OBLIGATIONS = "seller_obligations"
    WARRANTY = "warranty"
    ACCOUNT_SECURITY = "account_security"
    PRIVACY = "privacy"
    PROMOTIONS = "promotions"
    ACCESSIBILITY = "accessibility"
    STYLE_GUIDE = "style_guide"


class DraftState(StrEnum):
    SUGGESTED = "suggested"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    SENT = "sent"


class RejectReason(StrEnum):
    WRONG_INTENT = "wrong_intent"
    WRONG_POLICY = "wrong_policy"
    WRONG_FACTS = "wrong_facts"
    TONE = "tone"
    LANGUAGE = "language"
    INCOMPLETE = "incomplete"
    OTHER = "other"


# Languages the triage model, the templates and the evals are built for. Language ID may return
# any ISO 639-1 code it recognises; these are the ones we test and promise.
SUPPORTED_LANGUAGES: tuple[str, ...] = (
    "en",
    "de",
    "es",
    "fr",
    "it",
    "pt",
    "nl",
    "pl",
    "ja",
    "zh",
    "ko",
    "tr",
    "ru",
    "ar",
)
# Locales with hand-written reply templates; other languages are answered in English by the
# template generator (and in their own language by an LLM when one is configured).
TEMPLATE_LOCALES: tuple[str, ...] = ("en", "de", "es", "fr", "it", "pt", "nl", "pl", "ja")
UNDETERMINED_LANGUAGE = "und"
