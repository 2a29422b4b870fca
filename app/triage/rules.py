"""Explicit, tested rules for signals a classifier cannot learn from a few hundred examples.

Escalation flags (legal threats, chargebacks, safety, asking for a person, abuse, repeat
contact, VIP) are rare, high-stakes and worded in many languages; a missed one costs far more
than a false alarm. Each flag is a multilingual lexicon of patterns; every hit returns the
matched evidence. A short negation window before the hit ("no need for a lawyer", "ich will
keine Rückbuchung") cancels it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.taxonomy import EscalationFlag

_Pattern = re.Pattern[str]


def _compile(*alternatives: str) -> _Pattern:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


# Latin/Cyrillic words are bounded with \b; CJK and Arabic phrases are matched as substrings.
LEXICONS: dict[EscalationFlag, _Pattern] = {
    EscalationFlag.LEGAL_THREAT: _compile(
        r"\b(?:lawyers?|attorneys?|solicitors?|legal action|take (?:you|this) to court|sue|suing|lawsuit|small claims)\b",
        r"\b(?:trading standards|consumer (?:protection|rights) (?:agency|authority|body|association|office)|ombudsman|data protection (?:authority|supervisor)|ICO|CNIL|AEPD|CNPD|UODO|Datenschutzbehörde|garante (?:della )?privacy)\b",
        r"\b(?:anwalt|anwältin|rechtsanwalt\w*|anwaltlich\w*|klage|verklagen|gericht\w*|verbraucherzentrale|rechtliche schritte|mahnverfahren)\b",
        r"\b(?:abogad[oa]s?|demandar(?:é|los|les)?|poner una demanda|denuncia(?:r|ré)?|juzgado|tribunal(?:es)?|acciones legales|oficina del consumidor|omic|facua)\b",
        r"\b(?:avocat\w*|poursuites?|tribunal|porter plainte|procès|en justice|dgccrf|médiateur|mise en demeure|60 millions)\b",
        r"\b(?:avvocat[oi]|denuncia|tribunale|causa legale|azioni legali|codacons|altroconsumo|diffida)\b",
        r"\b(?:advogad[oa]|processar|tribunal|procon|reclame aqui|livro de reclama[cç][oõ]es|a[cç][aã]o judicial|deco)\b",
        r"\b(?:advocaat|rechtszaak|rechter|juridische stappen|consumentenbond|geschillencommissie|aangifte)\b",
        r"\b(?:prawnik\w*|adwokat\w*|pozew|pozw\w+|sąd(?:u|zie|owi|em)?|uokik|rzecznik\w* konsument\w*|kroki prawne)\b",
        r"\b(?:avukat\w*|dava\w*|mahkeme\w*|tüketici hakem heyeti)\b",
        r"\b(?:адвокат\w*|юрист\w*|суд(?:а|е|ом|у)?|подам в суд|иск(?:ом)?|роспотребнадзор\w*)\b",
        r"弁護士|訴訟|訴え|裁判|消費者センター|法的措置|律师|起诉|法院|诉讼|消协|消费者协会|변호사|소송|법적 조치|소비자원|"
        r"محام|المحكمة|دعوى|قضائي|حماية المستهلك",
    ),
    EscalationFlag.CHARGEBACK_THREAT: _compile(
        r"\b(?:charge ?backs?|dispute (?:the|this) (?:charge|payment|transaction)|(?:open|file|raise)(?:ing|ed)? an? (?:paypal|card|bank|credit card) (?:dispute|claim)|(?:dispute|claim) with (?:my|the) (?:bank|credit card|card (?:issuer|company)|paypal)|paypal (?:dispute|claim)|reverse the (?:charge|payment)|call my bank|contact(?:ing)? my (?:bank|card issuer))\b",
        r"\b(?:rückbuchung|rücklastschrift|chargeback|zahlung zurückbuchen|zurückbuchen|zurückholen|bank einschalten|paypal[- ]?(?:konflikt|fall|käuferschutz)|widerspruch bei (?:der|meiner) bank)\b",
        r"\b(?:contracargo|devoluci[oó]n del cargo|reclamaci[oó]n (?:a|en) paypal|disputa en paypal|anular el cargo|llamar? (?:a )?mi banco)\b",
        r"\b(?:opposition (?:bancaire|au paiement|sur (?:ma|la) carte)|rétrofacturation|litige paypal|faire opposition|contester le (?:paiement|prélèvement)|litige avec ma banque|appeler ma banque)\b",
        r"\b(?:storno|contestazione (?:bancaria|del pagamento|su paypal)|chargeback|riaddebito|disconoscimento)\b",
        r"\b(?:estorno|chargeback|contesta[cç][aã]o (?:do pagamento|no cart[aã]o)|disputa no paypal|ligar para o meu banco)\b",
        r"\b(?:terugboeking|terugboeken|storneren|storno|terugvorderen|geschil bij paypal|mijn bank (?:bellen|inschakelen))\b",
        r"\b(?:chargeback|obciążenie zwrotne|reklamacj\w+ (?:w|do) bank\w*|spór (?:w|na) paypal\w*)\b",
        r"\b(?:ters ibraz|bankaya itiraz\w*|ödemeye itiraz\w*)\b",
        r"\b(?:чарджбэк|оспорю платеж|оспорить платеж|возврат через банк)\b",
        r"チャージバック|カード会社に(?:連絡|異議)|支払い(?:の)?異議|拒付|银行(?:申诉|争议)|信用卡(?:争议|拒付)|카드사에 (?:이의|신고)|차지백|"
        r"استرداد المبلغ عن طريق البنك|اعتراض على الدفع|سأتصل بالبنك|أتصل بالبنك|نزاع (?:على|مع) (?:العملية|البنك)",
    ),
    EscalationFlag.SAFETY_ISSUE: _compile(
        r"\b(?:gas (?:leak|smell)\w*|smell(?:s|ed)? (?:of )?gas|caught fire|on fire|burst into flames|smok(?:e|ed|ing)|sparks?|sparking|overheat(?:ed|ing|s)?|melt(?:ed|ing)|explod(?:ed|ing)|electric shock|electrocut\w*|got a shock|burn(?:s|ed|t)|scald(?:ed)?|injur(?:y|ed|ies)|cut (?:my|his|her) (?:hand|finger)|bleeding|chok(?:e|ed|ing)|swallow(?:ed)?|allergic reaction|rash|hospital|poison\w*|toxic|mould|mold|dangerous|hazard\w*)\b",
        r"\b(?:gasgeruch|riecht nach gas|brandgeruch|brandfleck\w*|in brand geraten|feuer gefangen|in flammen|raucht|rauch|funken|überhitz\w*|geschmolzen|explodiert|stromschlag|verbrannt|verbrennung\w*|verletz\w*|blutet|verschluckt|allergische reaktion|ausschlag|krankenhaus|giftig|schimmel|gefährlich)\b",
        r"\b(?:incendi\w*|fuego|humo|chispas|sobrecalent\w*|derreti\w*|explot\w*|descarga eléctrica|calambre|quemadur\w*|quem[oó]|herid\w*|lesi[oó]n|sangr\w*|atragant\w*|trag[oó]|alergia|reacción alérgica|hospital|tóxic\w*|moho|peligros\w*)\b",
        r"\b(?:incendie|feu|fumée|étincelles?|surchauff\w*|fondu|explos\w*|décharge électrique|électrocut\w*|brûl\w*|bless\w*|saign\w*|étouff\w*|avalé|allergi\w*|urgences|hôpital|toxique|moisissure|dangereu\w*)\b",
        r"\b(?:incendi\w*|fuoco|fumo|scintill\w*|surriscald\w*|fus[oa]|espl\w*|scossa|ustion\w*|bruciat\w*|ferit\w*|sanguin\w*|soffoc\w*|ingoiat\w*|allergi\w*|ospedale|tossic\w*|muffa|pericolos\w*)\b",
        r"\b(?:incêndio|pegou fogo|fogo|fumaça|fumo|faíscas?|superaquec\w*|sobreaquec\w*|derret\w*|explod\w*|choque elétrico|queimad\w*|queimou|ferid\w*|sangr\w*|engasg\w*|engoliu|alergia|hospital|tóxic\w*|bolor|mofo|perigos\w*)\b",
        r"\b(?:in brand|vlam gevat|vlammen|rookt|vonken|oververhit\w*|gesmolten|ontplof\w*|stroomschok|elektrische schok|verbrand\w*|brandwond\w*|gewond|bloed\w*|verslikt|ingeslikt|allergische reactie|ziekenhuis|giftig|schimmel|gevaarlijk\w*)\b",
        r"\b(?:pożar\w*|zapalił\w*|ogień|dym\w*|iskr\w*|przegrz\w*|stopił\w*|wybuch\w*|porażeni\w*|poraził\w*|oparzeni\w*|poparzy\w*|zrani\w*|krwaw\w*|zadławi\w*|połknął|połknęła|alergi\w*|szpital\w*|toksyczn\w*|pleśń|niebezpieczn\w*)\b",
        r"\b(?:yangın|alev|duman|kıvılcım|aşırı ısın\w*|eridi|patladı|elektrik çarp\w*|yanık|yaralan\w*|kanama|boğul\w*|yuttu|alerji\w*|hastane\w*|zehir\w*|küf|tehlikeli)\b",
        r"\b(?:загорел\w*|пожар\w*|дым\w*|искр\w*|перегре\w*|расплави\w*|взорв\w*|удар(?:ило)? током|ожог\w*|обжёг|обжег|травм\w*|порез\w*|кров\w*|подавил\w*|проглотил\w*|аллерги\w*|больниц\w*|токсичн\w*|плесен\w*|опасн\w*)\b",
        r"発火|火が出|煙|火花|過熱|溶け|爆発|感電|やけど|火傷|怪我|ケガ|出血|飲み込|窒息|アレルギー|病院|有毒|カビ|危険|"
        r"起火|着火|冒烟|火花|过热|融化|爆炸|触电|烫伤|烧伤|受伤|流血|吞下|窒息|过敏|医院|有毒|发霉|危险|"
        r"불이 (?:났|붙)|화재|연기|불꽃|과열|녹았|폭발|감전|화상|다쳤|부상|피가|삼켰|질식|알레르기|병원|유독|곰팡이|위험|"
        r"حريق|اشتعل|دخان|شرار|ارتفاع الحرارة|انصهر|انفجر|صعق|صدمة كهربائية|حروق|حرق|إصابة|جرح|نزيف|ابتلع|اختناق|حساسية|المستشفى|مادة سامة|عفن|خطير|تسرب (?:ال)?غاز",
    ),
    EscalationFlag.HUMAN_REQUESTED: _compile(
        r"\b(?:(?:speak|talk|chat) (?:to|with) (?:a |an |your )?(?:real |actual |live )?(?:human|person|agent|manager|supervisor|someone)|(?:put|transfer) me through to|transfer me to (?:a|an) (?:person|human|agent)|real (?:person|human)|human being|not a (?:bot|robot|machine)|call me back|phone me|your manager|a supervisor)\b",
        r"\b(?:echte[rn]? (?:mensch\w*|person|mitarbeiter\w*)|mit einem menschen|vorgesetzte\w*|rückruf|rufen sie mich an|ruft mich an|kein(?:en)? (?:bot|roboter)|mitarbeiter sprechen)\b",
        r"\b(?:persona real|hablar con (?:una persona|alguien|un agente|un humano|un responsable|el encargado)|un humano|supervisor|ll[aá]menme|que me llamen|no un robot|no (?:un )?bot)\b",
        r"\b(?:vraie personne|un humain|parler à (?:quelqu'un|un conseiller|une personne|un responsable)|rappelez-moi|superviseur|pas un robot)\b",
        r"\b(?:persona reale|operatore|parlare con (?:qualcuno|una persona|un responsabile)|richiamatemi|un umano|non un robot)\b",
        r"\b(?:pessoa real|atendente humano|falar com (?:algu[eé]m|uma pessoa|um atendente|o respons[aá]vel|um humano)|me liguem|supervisor|n[aã]o um rob[oô])\b",
        r"\b(?:echt(?:e)? (?:persoon|mens|medewerker)|met een mens|bel me (?:terug|op)|leidinggevende|manager spreken|geen robot|geen bot)\b",
        r"\b(?:prawdziw\w* (?:człowiek\w*|osob\w*|konsultant\w*)|z człowiekiem|konsultant\w*|kierownik\w*|proszę o telefon|zadzwońcie|nie bot|nie robot)\b",
        r"\b(?:gerçek bir (?:insan|kişi)|yetkili(?:yle| ile)|müşteri temsilcisi|beni arayın|bot değil)\b",
        r"\b(?:живым человеком|живой человек|живого человека|оператор\w*|позовите (?:менеджера|человека)|перезвоните|не бот)\b",
        r"担当者と(?:話|電話)|人間の担当者|人間と話|オペレーター|責任者(?:を|と)|電話(?:して|をください|ください)|人工客服|真人|转人工|主管|经理|给我打电话|상담원|사람과 (?:통화|얘기|이야기)|담당자와 통화|책임자(?:를|와)|전화(?:해|주세요)|"
        r"شخص حقيقي|موظف حقيقي|التحدث مع (?:موظف|شخص)|المدير|اتصلوا بي",
    ),
    EscalationFlag.ABUSIVE: _compile(
        r"\b(?:idiots?|morons?|stupid (?:people|company|bots?)|useless (?:idiots|clowns|people)|scum|bastards?|f+u+c+k+\w*|shit\w*|bullshit|crap company|incompetent fools|go to hell|braindead|brain-dead)\b",
        r"\b(?:idioten?|vollidiot\w*|arschl\w*|scheiß\w*|scheiss\w*|verarsch\w*|betrüger(?:bande)?|drecks\w*|inkompetente[rn]? \w+|(?:komplett|total|völlig) unfähig\w*)\b",
        r"\b(?:idiotas?|imb[eé]ciles?|in[uú]tiles de mierda|estafadores|ladrones|sinverg[uü]enzas|gilipollas|cabrones?)\b",
        r"\b(?:connards?|abrutis?|bande d'incapables|escrocs|voleurs|enfoirés?)\b",
        r"\b(?:idioti|imbecilli|incompetenti|ladri|truffatori|cialtroni|buffoni)\b",
        r"\b(?:idiotas|incompetentes|ladr[oõ]es|vigaristas|palha[cç]os|merda|porcaria de empresa)\b",
        r"\b(?:idioten|oplichters|klootzak\w*|prutsers|waardeloze? \w+)\b",
        r"\b(?:idioci|idiot[oó]w|debile|oszuści|oszusci|złodzie\w*|zlodzie\w*|kurw\w*|chamstwo|banda nieudacznik\w*)\b",
        r"\b(?:aptal\w*|salak\w*|dolandırıcı\w*|rezil\w*|hırsız\w*)\b",
        r"\b(?:идиоты|дебилы|мошенники|жулики|ворьё|твари|уроды|бездар\w*)\b",
        r"バカ|馬鹿|詐欺師|ふざけるな|ふざけんな|無能|クソ|骗子|垃圾公司|垃圾平台|脑子有问题|混蛋|白痴|去死|사기꾼|바보|쓰레기 회사|개새끼|نصابين|حرامية|أغبياء|لصوص",
    ),
    EscalationFlag.REPEAT_CONTACT: _compile(
        r"\b(?:(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time (?:i(?:'m| am)? (?:writ|contact|ask|email|messag)\w*)|i(?:'ve| have) (?:already )?(?:written|contacted|emailed|messaged|asked|called) (?:you )?(?:twice|three times|several times|multiple times|before|already|again)|already (?:contacted|wrote|written|emailed|asked)|still (?:no|waiting for an?) (?:answer|reply|response)|no one has (?:replied|answered|responded)|nobody has (?:replied|answered)|every time i (?:ask|write|call|contact)|each time i (?:ask|write|call))\b",
        r"\b(?:(?:zum )?(?:zweiten|dritten|vierten|x-ten|wiederholten) ?mal|schon (?:zweimal|dreimal|mehrfach|mehrmals|wieder)|bereits (?:zweimal|mehrfach|mehrmals|geschrieben|kontaktiert)|(?:zweimal|dreimal|mehrmals) (?:geschrieben|angerufen|nachgefragt)|immer noch keine antwort|noch keine antwort|jedes mal,? wenn ich)\b",
        r"\b(?:(?:segunda|tercera|cuarta) vez|ya (?:os |les )?(?:he escrito|escrib[ií]|contact[eé])|varias veces|sigo sin (?:respuesta|noticias)|nadie (?:me )?responde)\b",
        r"\b(?:(?:deuxième|troisième|quatrième) (?:message|relance|fois que je vous (?:écris|contacte))|déjà (?:écrit|contacté|relancé)|toujours pas de réponse|à chaque fois que je|relance)\b",
        r"\b(?:(?:seconda|terza|quarta) volta che (?:vi )?(?:scrivo|contatto)|già (?:scritto|contattato)|ancora nessuna risposta|ogni volta che (?:chiedo|scrivo)|sollecito)\b",
        r"\b(?:(?:segunda|terceira|quarta) vez|j[aá] (?:escrevi|entrei em contato|contactei)|v[aá]rias vezes|continuo sem resposta|ningu[eé]m (?:me )?responde)\b",
        r"\b(?:(?:tweede|derde|vierde) keer dat ik|al (?:twee|drie|meerdere) keer (?:gemaild|geschreven|gebeld|contact)|heb (?:al|reeds) (?:gemaild|geschreven|contact)|nog steeds geen (?:antwoord|reactie)|elke keer als ik|verwijs naar (?:jullie|uw) (?:mail|bericht))\b",
        r"\b(?:(?:drugi|trzeci|czwarty) raz (?:piszę|pisze|dzwonię)|już (?:pisał\w*|dwa razy|kilka razy)|wielokrotnie|nadal brak odpowiedzi|za każdym razem|od Państwa wiadomości)\b",
        r"\b(?:(?:ikinci|üçüncü) kez|defalarca|daha önce (?:yazdım|ulaştım)|hala cevap yok|kimse cevap vermiyor)\b",
        r"\b(?:(?:второй|третий) раз|уже (?:писал\w*|обращал\w*)|несколько раз|до сих пор нет ответа|никто не отвечает)\b",
        r"(?:二|三|何)度目|何度も|何回問い合わせ|すでに(?:連絡|問い合わせ)|まだ返信|返事がない|再度のお問い合わせ|第[二三]次(?:联系|询问|写信|问)|多次联系|已经联系过|还没有回复|问三遍|두 번째|세 번째|여러 번|이미 문의|아직 답변|"
        r"للمرة (?:الثانية|الثالثة)|عدة مرات|راسلتكم سابقا|لم يرد أحد",
    ),
}

# Phrases that, shortly before a hit, say the buyer is NOT doing the thing ("no need for a
# lawyer", "I don't want to open a PayPal dispute"), and bare negators that only count when they
# sit right before the hit ("no sparks", "kein Anwalt"): a bare "not" further away belongs to
# another clause ("it has not arrived and I will call my lawyer").
_NEGATION_PHRASE = re.compile(
    r"(?:no need (?:to|for)|not (?:going|planning|trying|about) to|(?:don'?t|do not|won'?t|will not) (?:want|plan|intend|need)?\s*(?:to)?|"
    r"no intention|without|"
    r"kein(?:e|en)? (?:lust|absicht|grund)|nicht vor|nicht gleich|ohne|"
    r"no quiero|no pienso|no me voy a|no hace falta|sin necesidad|"
    r"pas besoin|pas l'intention|pas envie|sans|"
    r"non (?:voglio|ho (?:nessuna )?intenzione|serve)|nessuna intenzione|senza|"
    r"n[aã]o (?:quero|preciso|vou|é caso)|sem|"
    r"geen (?:zin|behoefte|plan)|niet van plan|zonder|"
    r"nie (?:chcę|zamierzam|muszę|mam zamiaru)|bez|"
    r"не (?:хочу|буду|собираюсь)|без)[^.!?\n]{0,30}$",
    re.IGNORECASE,
)
_NEGATION_BARE = re.compile(
    r"\b(?:no|not|never|kein\w*|nicht|nie|ni|sin|pas|non|n[aã]o|geen|niet|не|нет)\W+(?:\w+\W+)?$",
    re.IGNORECASE,
)
# Flags a negation can cancel. Abuse and repeat contact are not negated: "no idiots" is rare.
_NEGATABLE = {
    EscalationFlag.LEGAL_THREAT,
    EscalationFlag.CHARGEBACK_THREAT,
    EscalationFlag.HUMAN_REQUESTED,
    EscalationFlag.SAFETY_ISSUE,
}


# Japanese, Korean and Turkish negate after the noun ("弁護士呼ぶとかそういう話じゃない").
_NEGATION_AFTER = re.compile(
    r"^[^。！？.!?\n]{0,20}?(?:じゃない|ではない|ではありません|わけではない|아니|않|değil|yok)"
)


def _negated(before: str, after: str = "") -> bool:
    return bool(
        _NEGATION_PHRASE.search(before[-60:])
        or _NEGATION_BARE.search(before[-25:])
        or _NEGATION_AFTER.search(after[:30])
    )


@dataclass(frozen=True, slots=True)
class RuleHit:
    flag: EscalationFlag
    evidence: str
    reason: str


def _snippet(text: str, start: int, end: int, pad: int = 30) -> str:
    left, right = max(0, start - pad), min(len(text), end + pad)
    return ("…" if left else "") + text[left:right].replace("\n", " ").strip() + ("…" if right < len(text) else "")


# The same lexicons for text lower-cased up front: matching without IGNORECASE is about twice
# as fast, and triage runs these on every message.
_LOWER_LEXICONS: dict[EscalationFlag, _Pattern] = {flag: re.compile(p.pattern.lower()) for flag, p in LEXICONS.items()}


def find_escalations(text: str) -> list[RuleHit]:
    """Lexicon hits in ``text``, one per flag (the first un-negated match)."""
    hits: list[RuleHit] = []
    lowered = text.lower()
    # Lower-casing can change the length of a few characters (İ); then match case-insensitively.
    fast = len(lowered) == len(text)
    for flag, pattern in LEXICONS.items():
        matches = _LOWER_LEXICONS[flag].finditer(lowered) if fast else pattern.finditer(text)
        for match in matches:
            if flag in _NEGATABLE and _negated(
                text[max(0, match.start() - 60) : match.start()], text[match.end() : match.end() + 30]
            ):
                continue
            hits.append(
                RuleHit(flag, _snippet(text, match.start(), match.end()), f"matched '{match.group(0).strip()}'")
            )
            break
    return hits
