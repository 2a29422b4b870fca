"""`retrieval.lexical`, `retrieval.chunking` and `retrieval.sources` on small inputs written here.

The chunker counts tokens with tiktoken, which needs its offline cache; it is seeded from the
bundled BPE file into a temporary directory (no network, well under a second).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.lib import tokens
from retrieval.chunking import Chunk, Chunker, question_chunks, slug
from retrieval.lexical import BM25Index, tokenize
from retrieval.sources import Document, SourceError, parse_file, read_questions, read_sources

ROOT = Path(__file__).resolve().parents[2]
KB = ROOT / "kb_sources"

FRONT = """---
id: {id}
title: {title}
locale: {locale}
policy_type: {policy_type}
scope: platform
version: 2
effective_from: 2026-03-01
intents: [return_request]
facts:
  return_window_days: 30
---
"""


def front(**overrides: str) -> str:
    values = {"id": "sample-doc", "title": "Sample", "locale": "en", "policy_type": "returns"} | overrides
    return FRONT.format(**values)


@pytest.fixture(scope="module")
def chunker(tmp_path_factory: pytest.TempPathFactory) -> Chunker:
    tokens.configure(tmp_path_factory.mktemp("tiktoken"))
    return Chunker(220, 30)


# ---------------------------------------------------------------- tokenizer
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café RÉSUMÉ naïve", ["cafe", "resume", "naive"]),  # case and accents folded
        ("Straße STRASSE", ["strass", "strass"]),  # ß is ss
        ("Rücksendung Rücksendungen", ["ruckse", "ruckse"]),  # 6-character prefix stemming
        ("returns returned returning", ["return", "return", "return"]),
        ("Order TW-4821-7730 within 30 days", ["order", "tw", "4821", "7730", "within", "30", "days"]),
        ("Возврат денег", ["возвра", "денег"]),  # Cyrillic words, prefix-cut, й-style marks kept
        ("Й", []),  # single letters of space-separated scripts carry nothing
        ("استرداد المبلغ", ["استردا", "المبلغ"]),  # Arabic words
        ("배송이 늦어요", ["배송", "송이", "늦어", "어요"]),  # Korean: bigrams inside each word
        ("壊れた", ["壊れ", "れた"]),  # Japanese: overlapping bigrams
        ("退款", ["退款"]),
        ("猫", ["猫"]),  # a lone CJK character is kept
    ],
)
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_tokenize_splits_mixed_scripts_and_drops_punctuation() -> None:
    tokens = tokenize("Mein Paket (注文番号) ist kaputt!!! 😡")
    assert tokens == ["mein", "paket", "注文", "文番", "番号", "ist", "kaputt"]


def test_tokenize_keeps_accents_outside_latin() -> None:
    # Dakuten are part of Japanese letters: folding them would merge different words.
    assert tokenize("ガ") == ["ガ"]
    assert tokenize("й") == []
    assert tokenize("йод") == ["йод"]


# ---------------------------------------------------------------- BM25
CORPUS = [
    "Returns policy: return an item within 30 days of delivery for a refund.",
    "Damaged items: report a broken or cracked item within 14 days with photos.",
    "Lost parcel: if tracking has not moved for five business days, open an investigation.",
    "Rücksendungen: Sie können Artikel innerhalb von 30 Tagen zurücksenden.",
    "商品が壊れて届いた場合は、写真を添えて14日以内に連絡してください。",
    "Every item, every order, every day: the item is the item.",
]


def test_bm25_ranks_the_matching_document_first() -> None:
    index = BM25Index(CORPUS)
    assert next(i for i, _ in index.top("my parcel is lost, tracking stuck", 3)) == 2
    assert next(i for i, _ in index.top("cracked and broken on arrival", 3)) == 1
    assert [i for i, _ in index.top("Rücksendung", 3)] == [3]
    assert [i for i, _ in index.top("壊れています", 3)] == [4]


def test_bm25_rare_terms_outweigh_common_ones_and_saturate() -> None:
    index = BM25Index(CORPUS)
    scores = index.scores("item photos")
    # "photos" occurs once in the corpus, "item" in four documents (document 5 says it five times).
    assert scores.argmax() == 1
    assert scores[5] < scores[1]


def test_bm25_returns_nothing_without_shared_terms_and_honours_the_mask() -> None:
    index = BM25Index(CORPUS)
    assert index.top("zzz qqq", 5) == []
    assert index.scores("zzz").sum() == 0
    mask = [True] * len(CORPUS)
    mask[1] = False
    found = index.top("broken item photos", 5, np.array(mask))
    assert 1 not in [i for i, _ in found]
    assert found
    assert all(score > 0 for _, score in found)
    ranked = index.top("item", 2)
    assert len(ranked) == 2
    assert ranked[0][1] >= ranked[1][1]


def test_bm25_on_an_empty_corpus() -> None:
    index = BM25Index([])
    assert index.top("anything", 3) == []


# ---------------------------------------------------------------- chunking
def test_chunk_ids_and_anchors_are_stable(chunker: Chunker) -> None:
    document = parse_file(KB / "en" / "damaged-items.md", KB)
    first = chunker.split(document)
    second = chunker.split(parse_file(KB / "en" / "damaged-items.md", KB))
    assert [c.id for c in first] == [c.id for c in second]
    assert [c.content_hash for c in first] == [c.content_hash for c in second]
    assert first[0].id == "damaged-items@en#summary~0"
    assert first[0].anchor == "damaged-items@en#summary"
    assert first[0].section == 0
    assert first[0].heading_path == ["Item arrived damaged or broken"]
    reporting = next(c for c in first if c.section == 1)
    assert reporting.anchor == "damaged-items@en#reporting-a-damaged-item-within-14-days-of-delivery"
    assert reporting.heading_path == [
        "Item arrived damaged or broken",
        "Reporting a damaged item within 14 days of delivery",
    ]
    assert len({c.id for c in first}) == len(first)
    for chunk in first:
        assert chunk.doc_id == "damaged-items"
        assert chunk.locale == "en"
        assert chunk.policy_type == "damaged_or_wrong_item"
        assert chunk.scope == "platform"
        assert chunk.facts == {"damage_report_window_days": 14}
        assert chunk.source == "en/damaged-items.md"
        assert chunk.text
        assert not chunk.text.startswith("#")


def test_editing_a_section_keeps_its_anchor_but_changes_its_hash(chunker: Chunker) -> None:
    document = parse_file(KB / "en" / "damaged-items.md", KB)
    before = {c.id: c for c in chunker.split(document)}
    document.body = document.body.replace("within 48 hours", "within 24 hours")
    after = {c.id: c for c in chunker.split(document)}
    assert before.keys() == after.keys()
    changed = [i for i in after if after[i].text != before[i].text]
    assert changed
    assert all(before[i].content_hash != after[i].content_hash for i in changed)


def test_translations_share_section_numbers(chunker: Chunker) -> None:
    for doc_id in ("damaged-items", "returns-policy", "seller-nordic-home-returns"):
        english = chunker.split(parse_file(KB / "en" / f"{doc_id}.md", KB))
        german = chunker.split(parse_file(KB / "de" / f"{doc_id}.md", KB))
        assert {c.section for c in english} == {c.section for c in german}, doc_id
        for section in {c.section for c in english} - {0}:
            en_heading = next(c.heading_path[-1] for c in english if c.section == section)
            de_heading = next(c.heading_path[-1] for c in german if c.section == section)
            assert en_heading != de_heading  # translated headings, same section number
        assert all(c.locale == "de" and c.id.startswith(f"{doc_id}@de#") for c in german)


def test_long_sections_split_by_tokens_and_same_slug_headings_get_distinct_anchors(chunker: Chunker) -> None:
    sentence = "The seller pays the return shipping when an item arrives damaged or wrong. "
    body = f"# Sample\n\nIntro.\n\n## Details\n\n{sentence * 60}\n\n## Details!\n\nAgain.\n\n### Sub part\n\nDeep text."
    document = Document(
        id="sample",
        title="Sample",
        locale="en",
        policy_type="returns",
        scope="platform",
        version=1,
        effective_from="2026-01-01",
        body=body,
        path="en/sample.md",
    )
    small = Chunker(60, 10)
    chunks = small.split(document)
    details = [c for c in chunks if c.anchor == "sample@en#details"]
    assert len(details) > 3
    assert [c.part for c in details] == list(range(len(details)))
    assert [c.id for c in details] == [f"sample@en#details~{n}" for n in range(len(details))]
    assert {c.section for c in details} == {1}
    again = [c for c in chunks if c.anchor == "sample@en#details-2"]
    assert again
    assert again[0].section == 2
    assert again[0].text == "Again."
    sub = next(c for c in chunks if c.anchor == "sample@en#sub-part")
    assert sub.section == 2
    assert sub.heading_path == ["Sample", "Details!", "Sub part"]
    assert sub.index_text == "Sample. Details! › Sub part. Deep text."


def test_chunk_metadata_round_trips(chunker: Chunker) -> None:
    chunk = chunker.split(parse_file(KB / "de" / "seller-nordic-home-returns.md", KB))[1]
    again = Chunk.from_record(chunk.id, chunk.text, chunk.metadata())
    assert again == chunk
    assert all(isinstance(v, str | int | float | bool) for v in chunk.metadata().values())


def test_slug() -> None:
    assert slug("Rückgabe: 30 Tage!") == "rückgabe-30-tage"
    assert slug("返品について") == "返品について"
    assert slug("???") == "section"


# ---------------------------------------------------------------- sources
def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_markdown_front_matter_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path / "en" / "sample-doc.md", front() + "# Sample\n\nText.\n")
    document = parse_file(path, tmp_path)
    assert (document.id, document.locale, document.policy_type, document.version) == (
        "sample-doc",
        "en",
        "returns",
        2,
    )
    assert document.effective_from == "2026-03-01"
    assert document.intents == ["return_request"]
    assert document.facts == {"return_window_days": 30}
    assert document.path == "en/sample-doc.md"
    assert document.key == "sample-doc@en"


BROKEN: list[tuple[str, str | bytes, str]] = [
    (
        "missing.md",
        "---\nid: missing\ntitle: T\nlocale: en\nversion: 1\neffective_from: 2026-01-01\n---\nText",
        "front matter lacks policy_type, scope",
    ),
    (
        "bad-type.md",
        front(policy_type="teleportation") + "Text",
        "policy_type 'teleportation' is not one of returns",
    ),
    ("bad-yaml.md", "---\nid: bad-yaml\ntitle: [unclosed\n---\nText", "front matter is not valid YAML"),
    ("list.md", "---\n- just\n- a list\n---\nText", "front matter must be a mapping"),
    ("latin1.md", front().encode() + "Rücksendung".encode("latin-1"), "not valid UTF-8"),
    (
        "bad-date.md",
        front().replace("2026-03-01", "next tuesday") + "Text",
        "effective_from 'next tuesday' is not an ISO date",
    ),
    ("bad-locale.md", front(locale="english") + "Text", "locale 'english' must be an ISO 639-1 code"),
    ("bad-id.md", front(id="Bad ID!") + "Text", "id 'Bad ID!' must be lowercase"),
    ("empty.md", front() + "\n   \n", "the document has no text"),
    (
        "no-front.md",
        "# Just a heading\n\nNo front matter at all.",
        "front matter lacks title, policy_type, scope, version, effective_from",
    ),
]


@pytest.mark.parametrize(("name", "content", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_raise_a_reason(tmp_path: Path, name: str, content: str | bytes, reason: str) -> None:
    path = write(tmp_path / "en" / name, content)
    with pytest.raises(SourceError) as caught:
        parse_file(path, tmp_path)
    assert reason in str(caught.value)


def test_read_sources_skips_broken_files_with_path_and_reason(tmp_path: Path) -> None:
    write(tmp_path / "README.md", "# About this folder, not a document")
    write(tmp_path / "en" / "good.md", front(id="good") + "# Good\n\nFine.")
    write(tmp_path / "de" / "good.md", front(id="good", locale="de") + "# Gut\n\nGut.")
    write(tmp_path / "en" / "bad.md", front(policy_type="nope") + "Text")
    write(tmp_path / "en" / "copy.md", front(id="good") + "# Copy\n\nSame id and locale.")
    write(tmp_path / "en" / "notes.json", "{}")  # not a knowledge-base file type: ignored
    documents, problems = read_sources(tmp_path)
    assert sorted(d.key for d in documents) == ["good@de", "good@en"]
    assert [(p.path, p.reason.split(" ")[0]) for p in problems] == [
        ("en/bad.md", "policy_type"),
        ("en/good.md", "duplicate"),
    ]
    assert problems[1].reason == "duplicate of en/copy.md (good@en); skipped"
    with pytest.raises(FileNotFoundError):
        read_sources(tmp_path / "nowhere")


def test_html_scripts_and_styles_are_dropped_and_headings_kept(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Ignored &amp; replaced</title><style>h1 {color: red}</style></head><body>"
        "<h1>Gift cards</h1><p>Gift cards never expire &amp; can be combined.</p>"
        "<script>alert('steal cookies')</script>"
        "<h2>Balance</h2><ul><li>Check it in My account.</li></ul></body></html>"
    )
    meta = front(id="gift-cards", title="Gift cards", policy_type="payments")
    document = parse_file(write(tmp_path / "en" / "gift-cards.html", meta + page), tmp_path)
    assert "alert" not in document.body
    assert "color" not in document.body
    assert "# Gift cards" in document.body
    assert "## Balance" in document.body
    assert "never expire & can be combined" in document.body
    assert document.title == "Gift cards"


def test_html_title_is_used_when_front_matter_has_none(tmp_path: Path) -> None:
    meta = front(id="x").replace("title: Sample\n", "")
    page = "<html><head><title>Fees &amp; charges</title></head><body><p>No fees.</p></body></html>"
    document = parse_file(write(tmp_path / "en" / "x.htm", meta + page), tmp_path)
    assert document.title == "Fees & charges"
    assert document.body == "No fees."


def test_plain_text_file(tmp_path: Path, chunker: Chunker) -> None:
    path = write(tmp_path / "de" / "hinweis.txt", front(id="hinweis", locale="de") + "Bitte Fotos beilegen.\n")
    document = parse_file(path, tmp_path)
    assert document.locale == "de"
    assert document.body == "Bitte Fotos beilegen."
    chunks = chunker.split(document)
    assert [c.id for c in chunks] == ["hinweis@de#summary~0"]


# ---------------------------------------------------------------- buyer-question banks
BANK = """\
doc_id: sample-doc
sections:
  - heading: null
    questions:
      en: ["Can I send this back?"]
  - heading: Return window
    questions:
      en: ["How many days do I have to return a jacket?", "Am I still in time to return it?"]
      pl: ["Ile mam dni na zwrot butów?"]
  - heading: A heading the document does not have
    questions:
      en: ["Where does this question go?"]
"""


def sample_with_sections(chunker: Chunker) -> list[Chunk]:
    body = "# Sample\n\nIntro text about returns.\n\n## Return window\n\nThirty days.\n\n## Condition\n\nUnused."
    doc = Document("sample-doc", "Sample", "en", "returns", "platform", 2, "2026-03-01", body, "en/sample-doc.md")
    return chunker.split(doc)


def test_question_bank_is_parsed_and_points_at_sections(tmp_path: Path, chunker: Chunker) -> None:
    write(tmp_path / "questions" / "sample-doc.yaml", BANK)
    banks, problems = read_questions(tmp_path)
    assert problems == []
    assert [(q.language, q.heading) for q in banks[0].questions][:3] == [
        ("en", None),
        ("en", "Return window"),
        ("en", "Return window"),
    ]

    passages = sample_with_sections(chunker)
    questions, problems = question_chunks(banks, passages)
    by_text = {q.text: q for q in questions}
    assert by_text["Can I send this back?"].section == 0
    assert by_text["Ile mam dni na zwrot butów?"].section == 1
    assert by_text["Ile mam dni na zwrot butów?"].locale == "pl"
    assert by_text["Ile mam dni na zwrot butów?"].heading_path == ["Sample", "Return window"]
    assert all(q.is_question and q.index_text == q.text for q in questions)  # no title prefix
    assert "Where does this question go?" not in by_text
    assert [p.path for p in problems] == ["questions/sample-doc.yaml"]
    assert "A heading the document does not have" in problems[0].reason
    # Stable ids: the same question keeps its id across runs; the kind survives Chroma metadata.
    again, _ = question_chunks(read_questions(tmp_path)[0], passages)
    assert [q.id for q in again] == [q.id for q in questions]
    one = questions[1]
    assert Chunk.from_record(one.id, one.text, one.metadata()) == one


def test_question_bank_for_an_unknown_document_is_reported(tmp_path: Path, chunker: Chunker) -> None:
    write(tmp_path / "questions" / "sample-doc.yaml", BANK.replace("sample-doc", "gone-doc"))
    banks, _ = read_questions(tmp_path)
    questions, problems = question_chunks(banks, sample_with_sections(chunker))
    assert questions == []
    assert problems[0].reason == "no 'en' document 'gone-doc' to point at"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("doc_id: x\nsections: [oops", "not valid YAML"),
        ("- just a list", "expected a mapping"),
        ("doc_id: Bad Id\nsections: []", "must be lowercase"),
        ('doc_id: x\nsections:\n  - heading: null\n    questions:\n      english: ["Hello there?"]', "language code"),
        ('doc_id: x\nsections:\n  - heading: null\n    questions:\n      en: [""]', "empty or too long"),
        ("doc_id: x\nsections: []", "no questions"),
    ],
)
def test_broken_question_banks_are_skipped_with_a_reason(tmp_path: Path, content: str, reason: str) -> None:
    write(tmp_path / "questions" / "x.yaml", content)
    write(
        tmp_path / "questions" / "good.yaml",
        'doc_id: good\nsections:\n  - heading: null\n    questions:\n      en: ["Fine?"]',
    )
    banks, problems = read_questions(tmp_path)
    assert [b.doc_id for b in banks] == ["good"]
    assert len(problems) == 1 and problems[0].path == "questions/x.yaml"
    assert reason in problems[0].reason


def test_question_files_are_not_read_as_documents(tmp_path: Path) -> None:
    write(tmp_path / "en" / "good.md", front(id="good") + "# Good\n\nFine.")
    write(tmp_path / "questions" / "README.md", "# How to write buyer questions")
    write(
        tmp_path / "questions" / "good.yaml",
        'doc_id: good\nsections:\n  - heading: null\n    questions:\n      en: ["Fine?"]',
    )
    documents, problems = read_sources(tmp_path)
    assert [d.key for d in documents] == ["good@en"] and problems == []


def test_the_shipped_question_banks_point_at_real_sections(chunker: Chunker) -> None:
    documents, _ = read_sources(KB)
    banks, problems = read_questions(KB)
    assert problems == []
    passages = [c for d in documents if d.locale == "en" for c in chunker.split(d)]
    questions, problems = question_chunks(banks, passages)
    assert problems == []
    assert len({q.doc_id for q in questions}) == len(banks)
