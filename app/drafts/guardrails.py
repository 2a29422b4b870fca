"""Checks every draft must pass before an agent sees it.

Each check returns findings with the sentence concerned and the reason. ``error`` findings make
an LLM draft go through one repair attempt and then fall back to the template generator;
``warning`` findings are shown to the agent. The checks assume the worst of the generator:
they are what stands between a prompt-injected model and a buyer.

    placeholder          unfilled slots ("{order_id}", "[EMAIL_1]", "TODO")
    citation             passage ids that were not retrieved
    language             the draft, or one sentence of it, is not in the reply's language or script
    length               too short or too long
    fact                 dates, weekdays, durations, amounts, percentages and other numbers that no
                         computed fact, order detail or retrieved passage backs; contradicted facts
    prompt_leak          the prompt's own wording and labels, internal identifiers, source tags
    markup               HTML, scripts, Markdown, links and domains the passages do not contain
    promise              approvals, payouts, vouchers, compensation, waived returns or reports
    persona              role-play names, endearments, pirate or archaic register, insults
    other_customer_data  someone else's data, lists of buyers, data records, other orders
    code                 voucher-like codes and references nothing backs
    echo                 words taken from the buyer's message that nothing trusted backs, when
                         the message carries instructions (quoted text always counts)

"Trusted" means the retrieved passages, the reply phrase book, the computed facts and the order:
what the platform says. The buyer's message is data; when it tries to instruct the model, any
wording the draft takes from it and that the trusted sources do not share is treated as the
injection getting through. None of this knows any particular attack: the checks are about what
a reply may contain, not about what an attacker may write.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import msgspec

from app.drafts.context import DraftContext, Generation
from app.drafts.template_generator import split_sentences, template_locale
from app.drafts.templates import load_phrasebook
from app.lib.prompts import load_prompt
from app.triage.language import LanguageIdentifier


class Finding(msgspec.Struct, kw_only=True):
    check: str
    severity: str  # "error" | "warning"
    message: str
    sentence: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    min_chars: int = 60
    max_chars: int = 2500


_PLACEHOLDER = re.compile(
    r"\{\{?\s*[A-Za-z_][\w .]*\}?\}|\[(?:EMAIL|PHONE|CARD|IBAN|ADDRESS|NAME)_\d+\]|\[(?i:name|customer name|order number|date|amount|seller)\]|<(?i:name|order_id|date)>|\bX{3,}\b|\bTODO\b|\bTBD\b",
)
# Things no reply of ours may ever say, whatever the sources: prompt leakage, markup, promises an
# agent must authorise, someone else's data. Wording in the languages we reply in.
_FORBIDDEN = [
    (
        "prompt_leak",
        re.compile(
            r"(?i:system\s*-?\s*prompt|prompt\s+(?:di|du|del|do)\s+(?:sistema|système)|prompt\s+systemowy|system\s+override|"
            r"\bmy (?:instructions|prompt)|(?:previous|prior) instructions|\bas an ai\b|language model|jailbreak|developer mode|"
            r"<\|im_(?:start|end)\|>|### ?(?:assistant|system|user)|\breplydesk\b|\bchatgpt\b|\bopenai\b|\bLLM\b|"
            r"\b(?:meine|mes|mis|le mie|mijn|moje|minhas) (?:Anweisungen|instructions|instrucciones|istruzioni|instructies|instrukcje|instruções)\b|"
            r"システムプロンプト|プロンプト|私の指示|内部の指示|以下が私の)|\bDAN\b"
        ),
    ),
    (
        "prompt_leak",
        re.compile(
            # Our own formats: front-matter keys, snake_case fact names, source tags in prose.
            r"\b(?:policy_type|effective_from|intents|scope|facts|locale)\s*:|\b[a-z]+(?:_[a-z0-9]+)+\b|\[\s*(?:P\d+|sources?|quelle|fuente|fonte|bron|źródło|ref)\b",
            re.I,
        ),
    ),
    (
        "markup",
        re.compile(
            r"<\s*/?\s*(?:script|img|iframe|svg|a|style|object|embed|link|meta|form|input|body|html|div|span|p|br)\b|<!--|"
            r"javascript:|\bon(?:error|load|click|mouseover)\s*=|\]\(\s*(?:https?:|//|www\.)|\*\*\S|"
            r"\bdocument\.cookie\b|\b(?:local|session)Storage\b|\bwindow\.location\b|\beval\s*\(|\bfetch\s*\(",
            re.I,
        ),
    ),
    (
        "promise",
        re.compile(
            r"\b(?:i|we) (?:hereby )?(?:guarantee|promise|approve)\b|\bguaranteed (?:refund|compensation|replacement)\b|\brefund (?:is|has been) (?:guaranteed|approved)\b|"
            r"\b(?:voucher|coupon code|discount code|promo code|gift card code)\b|\bcompensation (?:of|payment)\b|\bfree (?:product|item|upgrade)\b|"
            r"\bwir garantieren\b|\bgutschein(?:code)?\b|\bentschädigung von\b|\bnous garantissons\b|\bbon d'achat\b|code promo|\bgarantizamos\b|\bcupón de\b|"
            r"\bgarantiamo\b|\bbuono sconto\b|\bgarantimos\b|\bvale[- ]presente\b|\bwij garanderen\b|\bkortingscode\b|\bgwarantujemy\b|\bkod rabatowy\b|"
            r"保証(?:いた)?します|クーポンコード",
            re.I,
        ),
    ),
    (
        "promise",
        re.compile(
            # Claims that something was already approved, paid or credited: a draft cannot act.
            r"\b(?:has|have)\s+(?:already\s+)?been\s+(?:pre-?)?(?:approved|processed|issued|credited|added|refunded|paid|granted|validated|authori[sz]ed)\b|"
            r"\b(?:i|we)\s+(?:have\s+)?already\s+(?:issued|processed|approved|credited|refunded|added|granted|paid)\b|\bpre-?approved\b|"
            # More than the money paid: a double refund, twice the amount.
            r"\b(?:double|twice\s+the)\s+(?:refund|amount|money)\b|\bdoppelte?n?\s+(?:Erstattung|Betrag|Rückerstattung)\b|\b(?:remboursement|montant)\s+double\b|"
            r"\bdoble\s+(?:reembolso|importe)\b|\brimborso\s+doppio\b|\bdubbele\s+(?:terugbetaling|bedrag)\b|\bpodwójn\w+\s+zwrot\w*|\bem\s+dobro\b|"
            r"\b(?:approved|confirmed|validated|validé|genehmigt)\s*:|"
            r"\b(?:wurde|wurden|ist|sind)\s+(?:bereits\s+|schon\s+)?(?:\w+\s+){0,2}(?:genehmigt|bewilligt|gutgeschrieben|überwiesen|freigegeben)\b|"
            r"\b(?:a|ont)\s+été\s+(?:\w+\s+)?(?:validée?s?|approuvée?s?|accordée?s?|créditée?s?|effectuée?s?|versée?s?)\b|\bdéjà\s+(?:été\s+)?(?:effectuée?s?|remboursée?s?|créditée?s?|validée?s?)\b|"
            r"\b(?:ha|han)\s+sido\s+(?:aprobad|abonad|acreditad|reembolsad|emitid)\w*|\bya\s+(?:le\s+)?(?:hemos\s+)?(?:reembolsado|abonado|acreditado)\b|"
            r"\b(?:è\s+stat[oa]|sono\s+stat[ie]|(?:le|gli|vi|ti)\s+abbiamo)\s+(?:già\s+)?(?:approvat|accreditat|rimborsat|emess|concess)\w*|"
            r"\b(?:is|zijn)\s+(?:al\s+|reeds\s+)?(?:goedgekeurd|gecrediteerd|terugbetaald|toegekend|bijgeschreven|overgemaakt)\b|"
            r"\b(?:został[aoy]?|zostały)\s+(?:już\s+)?(?:zatwierdzon|przyznan|zwrócon|przelan|zaksięgowan|wypłacon)\w*|"
            r"\b(?:foi|foram)\s+(?:já\s+)?(?:aprovad|creditad|reembolsad|emitid)\w*|"
            r"承認(?:されました|済み|しました|いたしました)|返金(?:済み|いたしました|しました|されました)|付与(?:しました|されました|いたしました)",
            re.I,
        ),
    ),
    (
        "promise",
        re.compile(
            # Money moving today or within the hour: no policy pays out that fast.
            r"(?:\brefund\w*|\breimburs\w*|\bpaid\b|\bpay(?:out|ment)?\b|\bcredit\w*|\btransfer\w*|\bmoney\b|\berstatt\w*|\büberw[ie]\w*|\bgutgeschrieben\b|\bgeld\b|"
            r"\brembours\w*|\bversé\w*|\bvirement\b|\breembols\w*|\babon\w*|\brimbors\w*|\baccredit\w*|\bbonific\w*|\bterugbeta\w*|\bgestort\b|"
            r"\bzwrot\w*|\bprzelew\w*|\bwypłac\w*|返金|振込|払い戻)[^.!?。\n]{0,60}?"
            r"(?:\btoday\b|\binstantly\b|\bright away\b|\bsame[- ]day\b|\bwithin (?:an?|one|1|\d+) hours?\b|\bheute\b|aujourd'hui|\bhoy\b|\boggi\b|"
            r"\bvandaag\b|\bdzisiaj\b|\bdziś\b|\bhoje\b|本日|今日中|即日)|"
            r"(?:\btoday\b|\binstantly\b|\bheute\b|aujourd'hui|\bhoy\b|\boggi\b|\bvandaag\b|\bdzisiaj\b|\bhoje\b|本日|今日中|即日)[^.!?。\n]{0,40}?"
            r"(?:\brefund\w*|\bpaid\b|\bcredit\w*|\berstatt\w*|\büberw[ie]\w*|\brembours\w*|\breembols\w*|\brimbors\w*|\baccredit\w*|\bterugbeta\w*|\bzwrot\w*|\bprzelew\w*|返金|振込)",
            re.I,
        ),
    ),
    (
        "other_customer_data",
        re.compile(
            r"other (?:customers?|buyers?)'?s? (?:e-?mail|address|order|name|data)|\b(?:list|table) of (?:(?:all|the|other)\s+)?(?:customers|buyers|users|orders|sellers)\b|"
            r"\bhere (?:is|are) the (?:list|names|addresses|e-?mails|orders)\b|"
            r"\b(?:her|his|their)\s+(?:full\s+)?(?:name|e-?mail(?:\s+address)?|phone(?:\s+number)?|(?:delivery\s+|shipping\s+|home\s+|postal\s+)?address|orders?|account|card|password|details)\b|"
            r"\bcard\s+ending\s+(?:in|with)\b|\blast\s+(?:four|4)\s+digits\b|"
            r"\b(?:name|e-?mail(?:\s+address)?|phone(?:\s+number)?|address)\s+(?:on|for|of|in)\s+(?:that|the\s+other|another|her|his|their)\s+order\b|"
            r"\b(?:name|e-?mail|address|phone)\s*,\s*(?:name|e-?mail|address|phone)\b|"
            r"(?:^|\s)@[a-z0-9-]+\.(?:com|net|org|de|fr|es|it|nl|pl|pt|jp|co\.uk)\b|"
            r"\b(?:anderer|anderen) (?:Kunden|Käufer)\b|\bKundenliste\b|\b(?:d'autres|des autres|autres) (?:clients|acheteurs)\b|\bliste des clients\b|"
            r"\botros (?:clientes|compradores)\b|\blista de (?:clientes|compradores)\b|\baltri (?:clienti|acquirenti)\b|\belenco (?:dei )?clienti\b|"
            r"\bandere (?:klanten|kopers)\b|\bklantenlijst\b|\binnych (?:klientów|kupujących)\b|\blista klientów\b|\boutros (?:clientes|compradores)\b|"
            r"他の(?:お客様|購入者|ユーザー|顧客)|(?:購入者|お客様|顧客|会員)(?:の)?一覧|一覧表",
            re.I,
        ),
    ),
]
# Wording that is wrong in a reply unless the retrieved policy itself uses it ("if you keep the
# item, the seller can offer a partial refund" is policy; "you can keep the item" is a promise).
_UNLESS_SOURCED = [
    (
        "promise",
        re.compile(
            r"\bno\s+(?:need\s+to\s+(?:return|send|report)|return\s+(?:is\s+)?(?:needed|required|necessary)|further\s+checks?)\b|"
            r"\b(?:do\s+not|don't|won't)\s+(?:need|have)\s+to\s+(?:return|send|report|fill)\b|\byou\s+(?:can|may)\s+keep\s+(?:the|it|your)\b|\bkeeps?\s+the\s+(?:item|product|goods)\b|"
            r"\b(?:nicht|keine?)\s+(?:zurück\w*|Rücksendung|Meldung)\s+(?:nötig|notwendig|erforderlich)\b|\bpas\s+besoin\s+de\s+(?:renvoyer|retourner|signaler)\b|"
            r"\bno\s+(?:es\s+necesario|hace\s+falta)\s+(?:devolver|enviar|informar)\b|\bquedarse\s+con\b|\bnon\s+(?:è\s+necessario|serve)\s+(?:restituire|rispedire)\b|"
            r"\bmag\s+(?:u|hij|zij|je)\b[^.]{0,40}\bhouden\b|\bbez\s+(?:żadnego\s+)?(?:zgłoszenia|zwrotu|odsyłania)\b|\bnão\s+(?:é\s+necessário|precisa)\s+(?:devolver|enviar)\b|"
            r"返品(?:は)?不要|返送(?:は)?不要|返品の必要はありません|"
            r"\b(?:goodwill|store)\s+credit\b|\bcredit\s+(?:of|has\s+been)\b|\bgeste\s+commercial\b|\bdédommagement\b|\ben\s+compensation\b|\bcompensación\b|"
            r"\b(?:tegoed|guthaben|gutschrift)\b|\bgratis\s+extra\b|\b(?:always|forever|for\s+life|lifetime|immer|lebenslang|toujours|à\s+vie|siempre|de\s+por\s+vida|"
            r"sempre|a\s+vita|altijd|levenslang|zawsze|dożywotni\w*)\s+(?:\w+\s+){0,2}(?:free|kostenlos|gratis|gratuit\w*|darmo|bezpłatn\w*)\b|"
            r"\b(?:free|kostenlos|gratis|gratuit\w*)\s+(?:\w+\s+){0,2}(?:forever|for\s+life|a\s+vita|à\s+vie|de\s+por\s+vida|levenslang|lebenslang)\b|"
            r"\bfor\s+free\b|\bnous\s+vous\s+offrons\b",
            re.I,
        ),
    ),
    (
        "persona",
        re.compile(
            r"\b(?:grandma|granny|grandmother|grandpa|grandson|granddaughter|sweetie|sweetheart|honey|darling|my\s+dear|dear\s+child|babe|bestie|buddy|"
            r"matey|ahoy|arr+|avast|hearties|shiver\s+me\s+timbers|landlubbers?|yo[- ]ho|thee|thou|thy|thine|forsooth|prithee|hath|doth|verily|methinks|"
            r"oma|opa|schätzchen|liebling|mamie|papy|ma\s+chérie|mon\s+chéri|abuel[ao]|abuelit[ao]|cariño|mi\s+amor|nonn[ao]|tesoro|schatje|lieverd|"
            r"babci[aą]|kochani[eu]|vov[óô]|querid[ao])\b|おばあちゃん|おじいちゃん|"
            r"\b(?:scam(?:mers?)?|fraud(?:sters?)?|crooks?|rip-?off|betrüger\w*|abzocke\w*|escroc\w*|arnaque\w*|estafador\w*|truffator\w*|oplichter\w*|oszu[sś]\w*|golpist\w*)\b|詐欺",
            re.I,
        ),
    ),
    (
        "other_customer_data",
        re.compile(
            # A data record ("Phone: …", "電話番号："), unless the policy prints one (a support address).
            r"(?:\b(?:e-?mail|phone|telephone|telefon|téléphone|teléfono|telefono|telefoon|telefone|address|adresse|dirección|indirizzo|adres|endereço)|"
            r"電話番号|住所|氏名|メールアドレス)\s*[:：]",
            re.I,
        ),
    ),
    ("fact", re.compile(r"§\s*\d+(?:[.,]\d+)*")),  # a paragraph of some rulebook: only if a passage has it
    (
        "markup",
        re.compile(
            r"\bhttps?://\S+|\bwww\.\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info|biz|io|co|example|shop|store|xyz|top|eu|de|fr|es|it|nl|pl|pt|jp|uk|ie|be|at|ch|se)\b(?:/\S*)?",
            re.I,
        ),
    ),
]
# Introducing oneself by a name: "I am DAN", "je suis Max", "as Max": a persona (the draft signs
# as the team, never as a person), unless the name is one the sources use.
_SELF_NAMED = re.compile(
    r"\b(?i:i\s+am|i'm|my\s+name\s+is|this\s+is|je\s+suis|je\s+m'appelle|en\s+tant\s+que|ich\s+bin|mein\s+name\s+ist|me\s+llamo|soy|"
    r"mi\s+chiamo|sono|ik\s+ben|mijn\s+naam\s+is|jestem|nazywam\s+się|eu\s+sou|chamo-me|as)\s+([A-Z][\w-]{1,30})"
)

_UNITS: dict[str, str] = {
    "hour": r"hours?|hrs?|h|Stunden?|heures?|horas?|ore|ora|uur|godzin\w*|godz\.?|時間",
    "day": r"(?:business |working |calendar )?days?|(?:Werk|Arbeits|Kalender)?[Tt]age?n?|Werktage?n?|tägig\w*|jours?(?: ouvrés| ouvrables)?|"
    r"días?(?: hábiles| laborables)?|giorni(?: lavorativi)?|giorno|dias?(?: úteis)?|(?:werk)?dagen|dag|dni(?: roboczych)?|dzień|営業日|日間?",
    "week": r"weeks?|Wochen?|semaines?|semanas?|settimane?|weken|week|tygodni\w*|tydzień|週間?",
    "month": r"months?|Monate?n?|mois|meses|mes|mesi|mese|maanden?|miesi\w+|か月|ヶ月|カ月",
    "year": r"years?|Jahre?n?|ans?|années?|años?|anni|anno|jaar|jaren|lat|lata|rok|roku|anos?|年間",
}
_COUNTING = [  # zero to twelve, in the languages we reply in
    "zero one two three four five six seven eight nine ten eleven twelve",
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf",
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze",
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce",
    "zero uno due tre quattro cinque sei sette otto nove dieci undici dodici",
    "nul een twee drie vier vijf zes zeven acht negen tien elf twaalf",
    "zero jeden dwa trzy cztery pięć sześć siedem osiem dziewięć dziesięć jedenaście dwanaście",
    "zero um dois três quatro cinco seis sete oito nove dez onze doze",
]
_NUMBER_WORDS: dict[str, float] = {
    **{w: float(i) for line in _COUNTING for i, w in enumerate(line.split())},
    "a": 1.0,
    "an": 1.0,
    "ein": 1.0,
    "eine": 1.0,
    "einen": 1.0,
    "une": 1.0,
    "una": 1.0,
    "één": 1.0,
    "uma": 1.0,
    "duas": 2.0,
    "dwie": 2.0,
    "hundred": 100.0,
    "hundert": 100.0,
    "cent": 100.0,
    "cien": 100.0,
    "cento": 100.0,
    "honderd": 100.0,
    "sto": 100.0,
    "cem": 100.0,
}
# "a"/"an" and the articles only count as "one" before weeks, months and years ("a year to return").
_ARTICLES = {"a", "an", "ein", "eine", "einen", "un", "une", "uno", "una", "een", "één", "um", "uma"}
_NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_NUM_WORD = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
_DURATION = re.compile(
    # Latin letters may not touch the number ("NC700"); CJK may ("5営業日", "は5日").
    rf"(?<![0-9A-Za-z\u00c0-\u024f.,])(?P<num>{_NUM}|(?:{_NUM_WORD})(?=\W))\s*(?:-\s*)?(?P<unit>"
    + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _UNITS.items())
    + r")(?![a-zà-ÿ])",
    re.I,
)
_MONEY = re.compile(rf"(?:€|EUR)\s*(?P<a>{_NUM})|(?P<b>{_NUM})\s*(?:€|EUR\b|euros?\b|ユーロ)", re.I)
_PERCENT = re.compile(
    rf"(?P<num>{_NUM})\s*(?:%|per\s*cent|percent|prozent|pour\s*cent|por\s*ciento|per\s*cento|procent|por\s*cento|パーセント)",
    re.I,
)
_BARE_NUMBER = re.compile(rf"(?<![0-9A-Za-z\u00c0-\u024f_.,:/#-])(?P<num>{_NUM})(?![0-9A-Za-z\u00c0-\u024f_:/])")
_ISO_DATE = re.compile(r"\b(20\d{2})-(\d{2})-(\d{2})\b")
_MONTH_DAY_CJK = re.compile(r"(?<![\d年])(\d{1,2})月(\d{1,2})日")  # "11月18日": a date without its year
_WEEKDAY = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|"
    r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo|"
    r"lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|"
    r"poniedziałek|poniedziałku|wtorek|wtorku|środa|środę|środy|czwartek|czwartku|piątek|piątku|sobota|sobotę|soboty|niedziela|niedzielę|niedzieli|"
    r"segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira)\b|[月火水木金土日]曜日?",
    re.I,
)
_ORDER_ID = re.compile(r"\bTW-\d{4}-\d{4}\b", re.I)  # the marketplace's order-number format
_CODE = re.compile(
    r"(?<![\w-])(?=[\w-]*[A-Za-z])(?=[\w-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w-])|(?<![\w-])[A-Z]{2,}(?:-[A-Z0-9]{2,})+(?![\w-])"
)
_NUMBER_AND_UNIT = re.compile(r"\d+(?:[.,]\d+)?(?:-?[a-zà-ÿ]+)+", re.I)  # "365-day", "24h": quantities, not codes

# ---- the buyer's message as untrusted text ----
_QUOTED = re.compile(
    r'"([^"\n]{2,500})"|“([^”\n]{2,500})”|„([^“”"\n]{2,500})[“”"]|«\s*([^»\n]{2,500}?)\s*»|「([^」\n]{1,500})」|『([^』\n]{1,500})』|‘([^’\n]{2,500})’'
)
# Signs that a message tries to instruct the model rather than ask for help: imperatives about
# the reply itself, role changes, forged system/agent turns and notes, encodings, markup.
_INJECTION_CUES = re.compile(
    # Each cue is narrow on purpose: "thanks for your reply", "can you confirm that…", "je vous
    # écris", "no sign of the parcel" and quoted e-mail threads are ordinary customer messages.
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|rules?|everything|above|previous|prior|polic(?:y|ies))\b|"
    r"\byou\s+are\s+(?:now|no\s+longer)\b|\bfrom\s+now\s+on\s+(?:you|answer|reply|respond|write|speak|talk)\b|\bact\s+as\s+(?!soon|if\b|though)|"
    r"\bpretend\s+(?:to\s+be|you)\b|\brole-?play\b|\b(?:in|into|to|at\s+the\s+(?:end|start|beginning)\s+of)\s+your\s+(?:reply|answer|response)\b|"
    r"\breply\s+(?:(?:only|just)\s+with\b|with\s*:)|\bwrite\s+back\s+exactly\b|\bexact\s+(?:sentence|words|phrase|wording)\b|\bword\s+for\s+word\b|"
    r"\bverbatim\b|\bexactly\s+as\s+written\b|\bprint\s+your\b|\b(?:decode|base64|rot13)\b|"
    r"\bnote\s+from\s+(?:tradewind|support|the\s+(?:support|team|agent|supervisor|admin)|\w+\s+support)\b|"
    r"\b(?:agent|assistant|internal)\s+(?:note|instructions?)\b|\binstructions?\s+(?:for|to)\s+(?:the\s+)?(?:assistant|agent|ai)\b|"
    r"(?:^|\n)\s*(?:system|assistant|user|admin|developer)\s*:|<\|im_(?:start|end)\|>|(?:^|\n)\s*#{2,}|"
    r"\[[^\]\n]{0,40}(?:system|systeem|note|notiz|notitie|intern|admin|agent|assistant|instruc|override|priorit|staff)[^\]\n]{0,100}\]|"
    r"<\s*/?\s*(?:script|img|a|iframe|svg|style|div|span|html|body)\b|<!--|\bbuyer_message\b|"
    r"\bignorier\w*|\bvergiss\b|\bschreib(?:e|en\s+Sie),?\s+dass\b|\bantworte\b|\bin\s+(?:Ihrer|deiner)\s+Antwort\b|\bzitieren\s+Sie\b|\bkopieren\s+Sie\b|\bAnweisung\w*|"
    r"\bignore[rz]?\s+(?:les|toutes|tout)\b|\boublie\b|\boubliez\s+(?:tout|les)\b|\bécrivez\s+(?:que|dans)\b|\bréponds\b|\bannoncez?-moi\b|"
    r"\bdans\s+(?:votre|ta)\s+réponse\b|\bsigne\s+ta\s+réponse\b|\bmot\s+pour\s+mot\b|\btextuellement\b|\brédige\b|\bconsigne\s+pour\s+l'?(?:assistant|ia|agent)\b|\bnote\s+interne\b|"
    r"\bolvida\b|\bignora\b|\bescribe\b|\ben\s+(?:la|tu|su)\s+respuesta\b(?!\s+anterior)|\bnueva\s+tarea\b|\bpalabras\s+exactas\b|\b(?:quiero|con)\s+la\s+frase\b|"
    r"\bdimentica\b|\bnella\s+risposta\b(?!\s+precedente)|\bdecodific\w*|"
    r"\bnegeer\b|\bvergeet\b|\bin\s+(?:je|uw)\s+antwoord\b|\bbeloof\b|\bnoem\s+de\s+code\b|\bnotitie\b|"
    r"\bzignoruj\b|\bzapomnij\b|\bw\s+odpowiedzi\s+(?:napisać|napisz|potwierdzić|podać)\b|"
    r"\besqueça\b|\bescreva\b|\bna\s+resposta\b(?!\s+anterior)|\bestas\s+palavras\b|\binclua\b|\bdiga\s+que\b|\bpalavras\s+exatas\b|"
    r"システムプロンプト|無視して|一字一句|と書いて返信|内部の指示",
    re.I,
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_TOKEN = re.compile(r"[^\W_]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
# Scripts other than Latin, and the languages that are written in them.
_SCRIPT_RANGES = {
    "cjk": "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af",
    "cyrillic": "\u0400-\u04ff",
    "arabic": "\u0600-\u06ff",
}
_OWN_SCRIPT = {"ru": "cyrillic", "uk": "cyrillic", "bg": "cyrillic", "sr": "cyrillic", "ar": "arabic", "fa": "arabic"}


def _foreign_script(language: str) -> re.Pattern[str]:
    """Letters of every non-Latin script except the language's own."""
    own = _OWN_SCRIPT.get(language)
    return re.compile("[" + "".join(r for name, r in _SCRIPT_RANGES.items() if name != own) + "]")


_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CJK_LANGUAGES = {"ja", "zh", "ko"}


def _localized_dates(locale: str, text: str) -> list[tuple[date, tuple[int, int]]]:
    """Dates written the way the locale's phrase book writes them (and ISO), with their spans."""
    found: list[tuple[date, tuple[int, int]]] = []
    for match in _ISO_DATE.finditer(text):
        try:
            found.append((date(int(match.group(1)), int(match.group(2)), int(match.group(3))), match.span()))
        except ValueError:
            continue
    try:
        book = load_phrasebook(locale)
    except (FileNotFoundError, OSError):
        return found
    months: list[str] = book.data["months"]
    pattern = str(book.data["date_format"])
    month_alt = "|".join(re.escape(m) for m in sorted(months, key=len, reverse=True))
    regex = (
        re.escape(pattern)
        .replace(r"\{day\}", r"(?P<day>\d{1,2})")
        .replace(r"\{month\}", f"(?P<month>{month_alt})")
        .replace(r"\{year\}", r"(?P<year>20\d{2})")
    )
    for match in re.finditer(regex, text, re.I):
        try:
            month = [m.lower() for m in months].index(match.group("month").lower()) + 1
            found.append((date(int(match.group("year")), month, int(match.group("day"))), match.span()))
        except (ValueError, IndexError):
            continue
    return found


def _number(text: str) -> float:
    """A number as written: "4,95" and "4.95" are 4.95; "3,200", "10.000" and "10.000,00" are thousands."""
    match = re.fullmatch(r"(\d{1,3}(?:([.,])\d{3})+)(?:([.,])(\d{1,2}))?", text)
    if match and match.group(3) != match.group(2):
        whole = re.sub(r"[.,]", "", match.group(1))
        return float(whole + ("." + match.group(4) if match.group(4) else ""))
    return float(text.replace(",", "."))


def _value(raw: str) -> float:
    word = raw.lower()
    return _NUMBER_WORDS[word] if word in _NUMBER_WORDS else _number(raw)


def _sentence_of(body: str, fragment: str) -> str:
    for sentence in split_sentences(body):
        if fragment in sentence:
            return sentence
    return fragment


def _echoes_buyer(body: str, message: str, words: int = 9) -> str | None:
    """A run of ``words`` consecutive words copied from the buyer's message (a sign of injection)."""
    tokens = re.findall(r"\w+", message.lower())
    if len(tokens) < words:
        return None
    grams = {" ".join(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}
    body_tokens = re.findall(r"\w+", body.lower())
    for i in range(len(body_tokens) - words + 1):
        gram = " ".join(body_tokens[i : i + words])
        if gram in grams:
            return gram
    return None


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " * (end - start) + text[end:]
    return text


# ---------------------------------------------------------------- n-grams
def _words(text: str) -> list[str]:
    words: list[str] = _TOKEN.findall(_CJK_RUN.sub(" ", text.lower()))
    return words


def _grams(text: str) -> set[str]:
    """Word stems (six letters), word bigrams and trigrams, and character trigrams of CJK runs."""
    words = _words(text)
    out = {"1:" + w[:6] for w in words}
    out.update("2:" + " ".join(words[i : i + 2]) for i in range(len(words) - 1))
    out.update("3:" + " ".join(words[i : i + 3]) for i in range(len(words) - 2))
    for run in _CJK_RUN.findall(text):
        out.update("c:" + run[i : i + 3] for i in range(len(run) - 2))
    return out


@lru_cache(maxsize=32)
def _phrasebook_grams(locale: str) -> frozenset[str]:
    return frozenset(_grams(_phrasebook_text(locale)))


@lru_cache(maxsize=32)
def _phrasebook_text(locale: str) -> str:
    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)

    try:
        return "\n".join(strings(load_phrasebook(locale).data))
    except (OSError, KeyError, TypeError):
        return ""


# A run of the prompt's wording only counts if it talks about the prompt's own machinery: the
# prompt also tells the model what to say ("say the team will check and come back").
_META = (
    "prompt rules rule priority instructions instruction buyer passages passage data json facts draft drafts agent agents "
    "markers persona behaviour reveal schema problems ids shape trusted ai"
)
_META_WORDS = frozenset(_META.split())


@lru_cache(maxsize=1)
def _prompt_wording() -> tuple[frozenset[str], frozenset[str]]:
    """Four-word runs and upper-case labels of our own prompts, which no reply should repeat."""
    runs: set[str] = set()
    labels: set[str] = set()
    for name in ("reply", "repair", "translate"):
        try:
            text = load_prompt("drafts", name).path.read_text(encoding="utf-8").split("---", 2)[-1]
        except (FileNotFoundError, OSError):
            continue
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", text, flags=re.S)
        for line in text.splitlines():
            words = _words(line)
            runs.update(
                " ".join(words[i : i + 4]) for i in range(len(words) - 3) if _META_WORDS & set(words[i : i + 4])
            )
        labels.update(m.lower().replace("_", " ") for m in re.findall(r"\b[A-Z]{3,}(?:[ _][A-Z]{2,})+\b", text))
    return frozenset(runs), frozenset(labels)


@dataclass
class _Sources:
    """What a draft may draw on (trusted) and what it must not copy (untrusted), for one draft."""

    trusted: str
    trusted_grams: set[str]
    buyer: str
    untrusted_grams: set[str]
    acronyms: set[str]
    injected: bool
    names: list[str]
    flat: str = ""  # the trusted text with its whitespace collapsed

    def __post_init__(self) -> None:
        self.flat = " ".join(self.trusted.split())

    def is_trusted(self, text: str) -> bool:
        """Whether the sources use this wording (as whole words: "Max" is not in "maximum")."""
        needle = text.strip().lower()
        return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", self.trusted) is not None

    def verbatim(self, body: str, start: int, end: int) -> bool:
        """Whether a match sits in text copied from the sources: a quoted policy sentence may say
        "after you have been refunded" or "for example TW-4821-7730"; the draft's own words may not."""
        match = body[start:end]
        if _CJK_RUN.search(match):
            windows = [body[max(0, start - 8) : end], body[start : end + 8]]
        else:
            before = body[:start].split()[-3:]
            after = body[end:].split()[:3]
            glued_left = bool(start and not body[start - 1].isspace())
            glued_right = bool(end < len(body) and not body[end].isspace())
            windows = []
            for k in (3, 2):
                if len(before) >= k:
                    windows.append((" ".join(before[-k:]) + ("" if glued_left else " ")).lstrip() + match)
                if len(after) >= k:
                    windows.append(match + ("" if glued_right else " ") + " ".join(after[:k]))
        return any(" ".join(w.lower().split()) in self.flat for w in windows if len(w.strip()) > len(match.strip()))

    def without_names(self, text: str) -> str:
        """The text with the buyer's, seller's and items' names blanked: they may be in any script."""
        for name in self.names:
            text = text.replace(name, " ")
        return text


def _decoded(text: str) -> str:
    """What base64 blobs and rot13 lines in the message say: instructions hide in encodings."""
    out = []
    for blob in _BASE64.findall(text):
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded and sum(ch.isprintable() or ch.isspace() for ch in decoded) >= 0.95 * len(decoded):
            out.append(decoded)
    out.extend(
        codecs.encode(line, "rot13")
        for line in text.splitlines()
        if sum(ch.isascii() and ch.isalpha() for ch in line) >= 20
    )
    return "\n".join(out)


def _sources(ctx: DraftContext, language: str) -> _Sources:
    ticket = ctx.ticket
    pieces = [p.text for p in ctx.passages] + [f"{p.title} {p.heading} {p.doc_id}" for p in ctx.passages]
    customer_locale = ticket.customer.locale if ticket.customer else None
    locale = template_locale(language, customer_locale)
    for fact in ctx.facts.facts.values():
        value = fact.value.isoformat() if isinstance(fact.value, date) else fact.value
        pieces.append(f"{value} {fact.explanation}")
    order = ticket.order
    if order:
        pieces += [order.id or "", order.carrier or "", order.tracking_number or ""]
        if order.seller:
            pieces += [order.seller.id, order.seller.name or ""]
        for item in order.items:
            pieces += [item.name, item.sku or ""]
    names: list[str] = []
    if ticket.customer:
        pieces += [ticket.customer.name or "", ticket.customer.email or ""]
        if ctx.customer_name:
            names += [ctx.customer_name, *(p for p in ctx.customer_name.split() if len(p) >= 2)]
    if order:
        names += [n for n in [*(i.name for i in order.items), order.seller.name if order.seller else None] if n]
    trusted = "\n".join([*pieces, _phrasebook_text(locale)])

    buyer = "\n".join([ticket.subject or "", ticket.message, *(h.text for h in ticket.history if h.role == "buyer")])
    hidden = _decoded(buyer)
    injected = bool(_INJECTION_CUES.search(buyer) or _INJECTION_CUES.search(hidden))
    if injected:
        untrusted = f"{buyer}\n{hidden}"
    else:
        untrusted = "\n".join([*("".join(groups) for groups in _QUOTED.findall(buyer)), hidden])
    return _Sources(
        trusted=trusted.lower(),
        # The phrase book is the same for every draft in a locale: its n-grams are computed once.
        trusted_grams=_grams("\n".join(pieces)) | _phrasebook_grams(locale),
        buyer=buyer.lower(),
        untrusted_grams=_grams(untrusted),
        acronyms={w.lower() for w in re.findall(r"\b[A-Z]{3}\b", untrusted)},
        injected=injected,
        names=sorted(set(names), key=len, reverse=True),
    )


class Guardrails:
    def __init__(self, languages: LanguageIdentifier, limits: Limits) -> None:
        self.languages = languages
        self.limits = limits

    def check(self, ctx: DraftContext, generation: Generation) -> list[Finding]:
        body = generation.body
        sources = _sources(ctx, generation.language)
        findings: list[Finding] = []
        findings += self._placeholders(body)
        findings += self._citations(ctx, generation)
        findings += self._language(generation, sources)
        findings += self._length(body)
        findings += self._facts(ctx, generation, sources)
        findings += self._forbidden(ctx, generation, sources)
        findings += self._echo(generation, sources)
        return findings

    @staticmethod
    def has_errors(findings: list[Finding]) -> bool:
        return any(f.severity == "error" for f in findings)

    @staticmethod
    def _sentence(generation: Generation, fragment: str) -> str:
        """The draft sentence a fragment sits in, so a repair knows what to remove."""
        for sentence in generation.sentences:
            if fragment in sentence.text:
                return sentence.text
        for sentence in generation.sentences:
            if fragment.lower() in " ".join(_words(sentence.text)):
                return sentence.text
        return _sentence_of(generation.body, fragment)

    def _placeholders(self, body: str) -> list[Finding]:
        return [
            Finding(
                check="placeholder",
                severity="error",
                message=f"unfilled placeholder {m.group(0)!r}",
                sentence=_sentence_of(body, m.group(0)),
            )
            for m in _PLACEHOLDER.finditer(body)
        ]

    def _citations(self, ctx: DraftContext, generation: Generation) -> list[Finding]:
        known = {p.chunk_id for p in ctx.passages}
        findings = []
        for sentence in generation.sentences:
            for chunk_id in sentence.chunk_ids:
                if chunk_id not in known:
                    findings.append(
                        Finding(
                            check="citation",
                            severity="error",
                            message=f"cites {chunk_id!r}, which was not retrieved",
                            sentence=sentence.text,
                        )
                    )
        if ctx.passages and not any(s.chunk_ids for s in generation.sentences):
            findings.append(Finding(check="citation", severity="warning", message="no sentence cites a passage"))
        return findings

    def _language(self, generation: Generation, sources: _Sources) -> list[Finding]:
        findings: list[Finding] = []
        core = [s.text for s in generation.sentences[1:-2]] or [generation.body]
        guess = self.languages.identify(" ".join(core))
        expected = generation.language
        if guess.code not in ("und", expected):
            severity = "error" if guess.confidence >= 0.6 else "warning"
            findings.append(
                Finding(
                    check="language",
                    severity=severity,
                    message=f"draft reads as '{guess.code}' ({guess.confidence:.2f}), expected '{expected}'",
                )
            )
        # One sentence in another script is enough to be wrong: the language guess for the whole
        # draft can still come out right. Names and item names are allowed in any script.
        for sentence in generation.sentences:
            text = sources.without_names(sentence.text)
            if expected in _CJK_LANGUAGES:
                wrong = not _CJK_RUN.search(text) and len(_LATIN_LETTER.findall(text)) >= 15
            elif expected in _OWN_SCRIPT:
                own = "[" + _SCRIPT_RANGES[_OWN_SCRIPT[expected]] + "]"
                wrong = len(_foreign_script(expected).findall(text)) >= 2 or (
                    not re.search(own, text) and len(_LATIN_LETTER.findall(text)) >= 15
                )
            else:
                wrong = len(_foreign_script(expected).findall(text)) >= 2
            if wrong:
                findings.append(
                    Finding(
                        check="language",
                        severity="error",
                        message=f"a sentence is not written in '{expected}'",
                        sentence=sentence.text,
                    )
                )
        return findings

    def _length(self, body: str) -> list[Finding]:
        if len(body) < self.limits.min_chars:
            return [
                Finding(
                    check="length",
                    severity="error",
                    message=f"draft has {len(body)} characters; at least {self.limits.min_chars} expected",
                )
            ]
        if len(body) > self.limits.max_chars:
            return [
                Finding(
                    check="length",
                    severity="error",
                    message=f"draft has {len(body)} characters; at most {self.limits.max_chars} allowed",
                )
            ]
        return []

    # ---- numbers ----
    @staticmethod
    def _durations(text: str) -> Iterator[tuple[str, float, re.Match[str]]]:
        for match in _DURATION.finditer(text):
            unit = next(name for name in _UNITS if match.group(name))
            raw = match.group("num")
            if raw.lower() in _ARTICLES and unit not in ("week", "month", "year"):
                continue
            yield unit, _value(raw), match

    def _facts(self, ctx: DraftContext, generation: Generation, sources: _Sources) -> list[Finding]:
        body = generation.body
        findings: list[Finding] = []

        def flag(message: str, fragment: str) -> None:
            findings.append(
                Finding(check="fact", severity="error", message=message, sentence=self._sentence(generation, fragment))
            )

        allowed_dates = set(ctx.facts.dates())
        order = ctx.ticket.order
        if order:
            for name in ("placed_at", "shipped_at", "estimated_delivery", "delivered_at"):
                day = order.day(name)
                if day:
                    allowed_dates.add(day)
        for passage in ctx.passages:
            allowed_dates.update(day for day, _ in _localized_dates(passage.locale, passage.text))
        dates = _localized_dates(generation.language, body)
        for day, (start, end) in dates:
            if day not in allowed_dates:
                flag(f"date {day.isoformat()} matches no computed fact or order date", body[start:end])
        month_days = {(d.month, d.day) for d in allowed_dates}
        for match in _MONTH_DAY_CJK.finditer(body):
            dates.append((date(2000, 1, 1), match.span()))  # blanked below, checked here
            if (int(match.group(1)), int(match.group(2))) not in month_days:
                flag(f"date {match.group(0)} matches no computed fact or order date", match.group(0))
        for match in _WEEKDAY.finditer(body):
            word = match.group(0).lower()
            if word not in sources.buyer and word not in sources.trusted:
                flag(f"weekday '{match.group(0)}' matches no computed fact (facts are dates)", match.group(0))
        # Blank out what is not a quantity before counting: dates ("2026年3月12日" is not "12
        # days"), order numbers, codes and the item names.
        spans = [span for _, span in dates]
        spans += [m.span() for m in _ORDER_ID.finditer(body)]
        spans += [
            m.span() for m in _CODE.finditer(body) if sources.is_trusted(m.group(0)) or _ORDER_ID.fullmatch(m.group(0))
        ]
        if order:
            for item in order.items:
                spans += [m.span() for m in re.finditer(re.escape(item.name), body)]
        text = _blank(body, spans)

        numbers = ctx.facts.numbers()
        # Durations, unit by unit: "24 hours" is not backed by "24 months".
        allowed: dict[str, set[float]] = {unit: set() for unit in _UNITS}
        for key, fact in ctx.facts.facts.items():
            values = (
                {float(fact.value)}
                if isinstance(fact.value, int | float) and not isinstance(fact.value, bool)
                else set()
            )
            if key.endswith("_hours"):
                allowed["hour"] |= values
            elif "days" in key:
                allowed["day"] |= values
            elif key.endswith("_months"):
                allowed["month"] |= values
        passages = "\n".join(p.text for p in ctx.passages)
        for unit, value, _ in self._durations(passages):
            allowed[unit].add(value)
        allowed["day"] |= {v * 7 for v in allowed["week"]} | {v / 24 for v in allowed["hour"]}
        allowed["hour"] |= {v * 24 for v in allowed["day"]}
        allowed["month"] |= {v * 12 for v in allowed["year"]}
        allowed["year"] |= {v / 12 for v in allowed["month"]}
        allowed["week"] |= {v / 7 for v in allowed["day"]}
        used: list[tuple[int, int]] = []
        for unit, value, match in self._durations(text):
            used.append(match.span())
            if round(value, 3) not in {round(v, 3) for v in allowed[unit]}:
                known = sorted(int(n) if float(n).is_integer() else n for n in allowed[unit] if n < 1000)
                flag(
                    f"'{match.group(0).strip()}' contradicts the policy facts (known {unit} values: {known})",
                    match.group(0).strip(),
                )

        money = {round(n, 2) for n in numbers}
        if order:
            money.update(round(float(i.price), 2) for i in order.items if i.price is not None)
            money.update(round(float(i.price) * i.quantity, 2) for i in order.items if i.price is not None)
        for match in _MONEY.finditer(passages):
            money.add(round(_number(match.group("a") or match.group("b")), 2))
        for match in _MONEY.finditer(text):
            used.append(match.span())
            raw = match.group("a") or match.group("b")
            if round(_number(raw), 2) not in money:
                flag(f"amount {match.group(0).strip()} matches no order amount or policy value", match.group(0).strip())

        percents = {round(_number(m.group("num")), 2) for m in _PERCENT.finditer(passages)}
        for match in _PERCENT.finditer(text):
            used.append(match.span())
            if round(_number(match.group("num")), 2) not in percents:
                flag(f"'{match.group(0).strip()}' matches no policy percentage", match.group(0).strip())

        # Any other number above a dozen must come from somewhere: the facts, the order, the
        # sources, or (when the message is not trying to instruct us) the buyer's own message.
        backed = {round(n, 2) for n in numbers} | money
        for match in _BARE_NUMBER.finditer(sources.trusted + ("\n" + sources.buyer if not sources.injected else "")):
            backed.add(round(_number(match.group("num")), 2))
        for match in _BARE_NUMBER.finditer(_blank(text, used)):
            value = _number(match.group("num"))
            if value > 12 and round(value, 2) not in backed:
                flag(f"the number {match.group(0)} matches no fact, order detail or passage", match.group(0))

        facts = ctx.facts
        lowered = body.lower()
        if (
            facts.get("return_window_open") is False
            and ctx.triage.intent.label == "return_request"
            and re.search(r"\bstill (?:return|send)|can (?:still )?return it\b", lowered)
        ):
            findings.append(
                Finding(
                    check="fact",
                    severity="error",
                    message="says the item can still be returned, but the return window has closed",
                )
            )
        if facts.get("cancellable") is False and re.search(
            r"\bcancel(?:led)? (?:it )?(?:for you|free of charge)\b|\bhave cancelled\b", lowered
        ):
            findings.append(
                Finding(
                    check="fact", severity="error", message="offers a cancellation, but the order has already shipped"
                )
            )
        return findings

    # ---- what a reply must never say ----
    def _forbidden(self, ctx: DraftContext, generation: Generation, sources: _Sources) -> list[Finding]:
        body = generation.body
        findings: list[Finding] = []

        def flag(check: str, message: str, fragment: str) -> None:
            findings.append(
                Finding(check=check, severity="error", message=message, sentence=self._sentence(generation, fragment))
            )

        for check, pattern in _FORBIDDEN:
            for match in pattern.finditer(body):
                if not sources.verbatim(body, *match.span()):
                    flag(check, f"must not say {match.group(0)!r}", match.group(0))
        for check, pattern in _UNLESS_SOURCED:
            for match in pattern.finditer(body):
                if not sources.is_trusted(match.group(0)) and not sources.verbatim(body, *match.span()):
                    flag(check, f"must not say {match.group(0)!r} (no retrieved policy says it)", match.group(0))
        for match in _SELF_NAMED.finditer(body):
            name = match.group(1)
            if not sources.is_trusted(name):
                flag("persona", f"speaks as {name!r}: drafts sign as the team, never as a persona", match.group(0))

        own = (ctx.ticket.order.id or "").upper() if ctx.ticket.order else ""
        for match in _ORDER_ID.finditer(body):
            if match.group(0).upper() != own and not sources.verbatim(body, *match.span()):
                flag(
                    "other_customer_data",
                    f"mentions order {match.group(0)!r}, which is not this ticket's order",
                    match.group(0),
                )
        for match in _CODE.finditer(body):
            code = match.group(0)
            compact = code.replace("-", "")
            if (
                _ORDER_ID.fullmatch(code)
                or sources.is_trusted(code)
                or _NUMBER_AND_UNIT.fullmatch(code)
                or sources.verbatim(body, *match.span())
            ):
                continue
            letters = sum(ch.isalpha() for ch in compact)
            if len(compact) >= 5 and letters >= 2 and (any(ch.isdigit() for ch in compact) or code.isupper()):
                flag("code", f"gives the code {code!r}, which no order detail or policy backs", code)

        runs, labels = _prompt_wording()
        trusted_words = " ".join(_words(sources.trusted))
        for sentence in generation.sentences:
            words = _words(sentence.text)
            for i in range(len(words) - 3):
                run = " ".join(words[i : i + 4])
                if run in runs and run not in trusted_words:
                    flag("prompt_leak", f"repeats the instructions: '{run}'", sentence.text)
                    break
        lowered = " ".join(_words(body))
        for label in labels:
            if re.search(rf"\b{re.escape(label)}\b", lowered) and label not in sources.trusted:
                flag("prompt_leak", f"uses the prompt's label '{label}'", label)

        echoed = _echoes_buyer(body, ctx.ticket.message)
        if echoed:
            findings.append(
                Finding(check="echo", severity="error", message=f"repeats the buyer's own words verbatim: '{echoed}'")
            )
        return findings

    def _echo(self, generation: Generation, sources: _Sources) -> list[Finding]:
        """Wording the draft can only have taken from the untrusted part of the buyer's message."""
        findings: list[Finding] = []
        if not sources.untrusted_grams:
            return findings
        for sentence in generation.sentences:
            fragment = self._echoed(sentence.text, sources)
            if fragment:
                findings.append(
                    Finding(
                        check="echo",
                        severity="error",
                        message=f"takes '{fragment}' from the buyer's message, and no policy, fact or order detail says it",
                        sentence=sentence.text,
                    )
                )
        return findings

    @staticmethod
    def _echoed(text: str, sources: _Sources) -> str | None:
        untrusted, trusted = sources.untrusted_grams, sources.trusted_grams
        text = sources.without_names(text)
        words = _words(text)
        for n in (3, 2):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                key = f"{n}:" + " ".join(gram)
                if any(len(w) >= 4 for w in gram) and key in untrusted and key not in trusted:
                    return " ".join(gram)
        for word in words:
            if word.isdigit() or (len(word) < 4 and word not in sources.acronyms):
                continue
            key = "1:" + word[:6]
            if key in untrusted and key not in trusted:
                return word
        runs: list[str] = _CJK_RUN.findall(text)
        for run in runs:
            for i in range(len(run) - 2):
                key = "c:" + run[i : i + 3]
                if key in untrusted and key not in trusted:
                    return run[i : i + 3]
        return None
