"""Reply plans: for each intent, which steps a good agent's reply takes, given the facts.

A plan is a list of ``Step``: phrase keys to try in order (the first one whose placeholders all
have values wins) and the fact keys the step states, so the step can be cited to the documents
those facts come from. The phrasing lives in ``prompts/templates/<locale>.yaml``; the logic of
*what* to say lives here, once for every language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.drafts.facts import PolicyFacts
from app.taxonomy import Intent


@dataclass(frozen=True, slots=True)
class Step:
    keys: tuple[str, ...]
    facts: tuple[str, ...] = ()
    optional: bool = False


@dataclass(slots=True)
class PlanContext:
    intent: str
    facts: PolicyFacts
    escalation_flags: list[str] = field(default_factory=list)
    account_takeover: bool = False

    def fact(self, key: str) -> object:
        return self.facts.get(key)


def S(*keys: str, facts: tuple[str, ...] = (), optional: bool = False) -> Step:
    return Step(tuple(keys), facts, optional)


def plan_for(ctx: PlanContext) -> list[Step]:
    f = ctx.facts
    intent = ctx.intent
    delivered = f.has("delivered_at")
    status = f.get("order_status")
    shipped = status in ("shipped", "in_transit", "delivered") or f.has("shipped_at") or delivered
    steps: list[Step] = []

    if intent == Intent.ORDER_STATUS:
        if not f.has("order_id"):
            steps.append(S("need_order"))
        elif delivered:
            steps.append(S("status_delivered", facts=("delivered_at",)))
            steps.append(S("nr_investigation", facts=("carrier_investigation_business_days",), optional=True))
        elif shipped:
            steps.append(S("status_in_transit", "status_tracking", facts=("estimated_delivery",)))
            steps.append(S("status_tracking", optional=True))
        else:
            steps.append(S("status_not_shipped", "need_order"))
    elif intent == Intent.DELIVERY_DELAYED or (intent == Intent.NOT_RECEIVED and not delivered):
        if not f.has("estimated_delivery"):
            steps.append(S("need_order") if not f.has("order_id") else S("status_tracking"))
        elif f.get("lost_claim_open"):
            steps.append(S("delay_lost_claim", facts=("lost_claim_open", "carrier_investigation_business_days")))
        elif f.get("is_late"):
            steps.append(S("delay_late", facts=("lost_claim_from",)))
        else:
            steps.append(S("delay_not_late_yet", facts=("late_from",)))
            steps.append(S("status_tracking", optional=True))
    elif intent == Intent.NOT_RECEIVED:
        steps.append(S("nr_delivered", facts=("delivered_at",)))
        steps.append(S("nr_investigation", facts=("carrier_investigation_business_days",)))
    elif intent == Intent.DAMAGED_ITEM:
        steps.append(S("damaged_ack", "damaged_ack_plain"))
        if f.get("damage_report_open") is False:
            steps.append(S("damaged_late", facts=("damage_report_deadline", "warranty_until")))
        else:
            steps.append(S("damaged_in_window", facts=("damage_report_window_days",)))
        steps.append(S("damaged_photos"))
    elif intent == Intent.WRONG_ITEM:
        steps.append(S("wrong_ack"))
        steps.append(S("wrong_in_window", facts=("damage_report_window_days",)))
        steps.append(S("wrong_photo"))
    elif intent == Intent.MISSING_ITEM:
        steps.append(S("missing_ack"))
        steps.append(S("missing_check", optional=True))
        steps.append(S("missing_in_window", facts=("damage_report_window_days",)))
    elif intent == Intent.RETURN_REQUEST:
        if not delivered:
            steps.append(S("return_not_delivered", "return_policy", facts=("return_window_days",)))
            if not f.has("order_id"):
                steps.append(S("need_order", optional=True))
        elif f.get("return_window_open"):
            steps.append(S("return_open", "return_open_plain", facts=("return_deadline", "return_window_days")))
            if f.get("return_shipping_paid_by") == "seller":
                steps.append(S("return_free", facts=("return_shipping_paid_by",)))
            else:
                steps.append(S("return_paid", facts=("return_shipping_fee_eur",)))
            steps.append(S("return_how"))
            steps.append(S("return_refund", facts=("refund_processing_days",), optional=True))
        else:
            steps.append(S("return_closed", facts=("return_deadline", "return_window_days")))
            steps.append(S("return_closed_options", facts=("warranty_until",), optional=True))
    elif intent == Intent.REFUND_STATUS:
        steps.append(S("refund_timeline", facts=("refund_processing_days",)))
        steps.append(S("refund_bank", facts=("refund_bank_days",), optional=True))
        steps.append(S("refund_check"))
    elif intent == Intent.CANCEL_ORDER:
        if f.get("cancellable") is True:
            steps.append(S("cancel_possible", facts=("cancellable",)))
            steps.append(S("cancel_refund", facts=("refund_bank_days",), optional=True))
        elif f.get("cancellable") is False:
            steps.append(S("cancel_shipped", facts=("cancellable", "return_window_days")))
        else:
            steps.append(S("cancel_policy"))
            steps.append(S("need_order", optional=True))
    elif intent == Intent.CHANGE_ORDER:
        if f.get("cancellable") is False:
            steps.append(S("change_shipped", facts=("return_window_days",)))
        elif f.get("changeable") is True:
            steps.append(S("change_possible", facts=("seller_response_hours", "changeable")))
        elif f.get("cancellable") is True:
            steps.append(S("change_processing", facts=("changeable", "cancellable")))
        else:
            steps.append(S("need_order"))
    elif intent == Intent.CHANGE_ADDRESS:
        if f.get("cancellable") is False or shipped:
            steps.append(S("address_shipped"))
        elif f.get("cancellable") is True:
            steps.append(S("address_possible"))
        else:
            steps.append(S("need_order"))
    elif intent == Intent.PAYMENT_ISSUE:
        steps.append(S("payment_double", facts=("authorization_release_business_days",)))
        steps.append(S("payment_check"))
    elif intent == Intent.INVOICE_REQUEST:
        steps.append(S("invoice_seller", "need_order", facts=("invoice_due", "invoice_issue_business_days")))
        steps.append(S("invoice_download", optional=True))
    elif intent == Intent.ACCOUNT_ACCESS:
        steps.append(S("account_takeover") if ctx.account_takeover else S("account_reset"))
    elif intent == Intent.PRIVACY_REQUEST:
        steps.append(S("privacy_ack", facts=("privacy_due", "privacy_response_days")))
        steps.append(S("privacy_verify"))
    elif intent == Intent.PRODUCT_QUESTION:
        steps.append(S("product_seller", "product_ask", facts=("seller_response_hours",)))
    elif intent == Intent.SELLER_DISPUTE:
        steps.append(S("dispute_ack", optional=True))
        steps.append(
            S("dispute_process", facts=("seller_response_hours", "dispute_seller_days", "platform_steps_in_from"))
        )
    elif intent == Intent.BUYER_PROTECTION_CLAIM:
        if f.get("protection_eligible") is False:
            steps.append(S("protection_expired", facts=("protection_deadline",)))
            steps.append(S("dispute_process", facts=("dispute_seller_days",), optional=True))
        else:
            steps.append(S("protection_eligible", facts=("protection_deadline",)))
            if f.get("protection_capped"):
                steps.append(S("protection_capped", facts=("protection_max_amount_eur",)))
            steps.append(S("protection_decision", facts=("protection_decision_days",)))
    elif intent == Intent.WARRANTY_CLAIM:
        if f.get("in_warranty") is False:
            steps.append(S("warranty_expired", facts=("warranty_until", "legal_warranty_months")))
        else:
            steps.append(S("warranty_in", "warranty_describe", facts=("warranty_until",)))
            steps.append(S("warranty_describe"))
    elif intent == Intent.PROMOTION_COUPON:
        steps.append(S("coupon_rules", facts=("coupon_per_order",)))
        steps.append(S("coupon_help"))
    elif intent == Intent.SHIPPING_CUSTOMS:
        if f.get("duties_may_apply"):
            steps.append(S("customs_duties", facts=("duties_may_apply",)))
        else:
            steps.append(S("customs_generic", facts=("duties_threshold_eur",), optional=True))
        steps.append(S("customs_held"))
    elif intent == Intent.COMPLAINT:
        steps.append(S("complaint_ack"))
        steps.append(S("complaint_forward"))
    elif intent == Intent.FEEDBACK_PRAISE:
        steps.append(S("praise_thanks"))
    else:
        steps.append(S("other_generic"))

    # Cross-cutting steps, driven by triage signals.
    if "safety_issue" in ctx.escalation_flags:
        steps.insert(0, S("escalation_safety"))
    if any(flag in ctx.escalation_flags for flag in ("legal_threat", "human_requested", "safety_issue", "abusive")):
        steps.append(S("escalation_specialist"))
    if "chargeback_threat" in ctx.escalation_flags:
        steps.append(S("escalation_chargeback"))
    return steps


# Intents where the reply opens with an apology rather than thanks.
SORRY_INTENTS = {
    Intent.DELIVERY_DELAYED,
    Intent.NOT_RECEIVED,
    Intent.DAMAGED_ITEM,
    Intent.WRONG_ITEM,
    Intent.MISSING_ITEM,
    Intent.REFUND_STATUS,
    Intent.PAYMENT_ISSUE,
    Intent.ACCOUNT_ACCESS,
    Intent.SELLER_DISPUTE,
    Intent.BUYER_PROTECTION_CLAIM,
    Intent.WARRANTY_CLAIM,
    Intent.COMPLAINT,
    Intent.PROMOTION_COUPON,
}
# Intents whose own first step already apologises: the opening just thanks.
SELF_APOLOGISING = {
    Intent.DAMAGED_ITEM,
    Intent.WRONG_ITEM,
    Intent.MISSING_ITEM,
    Intent.COMPLAINT,
    Intent.SELLER_DISPUTE,
}
