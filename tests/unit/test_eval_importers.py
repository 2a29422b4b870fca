"""`evals.importers`: small CSVs written here, plus the shared public datasets when present."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from evals.dataset import load_dataset
from evals.importers import ImportSummary, import_bitext, import_csv, import_tickets_en_de, parse_mapping

SHARED = Path(__file__).parents[3] / "shared" / "datasets"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_parse_mapping_accepts_dotted_targets() -> None:
    mapping = parse_mapping(
        " message=body, subject=subject,labels.urgency=priority,customer.name=who,order.seller.id=shop "
    )

    assert mapping == {
        "message": "body",
        "subject": "subject",
        "labels.urgency": "priority",
        "customer.name": "who",
        "order.seller.id": "shop",
    }


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("subject=subject,labels.urgency=priority", "which column holds the message"),
        ("", "which column holds the message"),
        ("message", "bad mapping entry 'message'"),
        ("message=body,labels.=x", "unknown target 'labels.'"),
        ("message=body,priority=priority", "unknown target 'priority'"),
        ("message=body,message=text", "mapped twice"),
    ],
)
def test_parse_mapping_rejects_bad_specs(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_mapping(spec)


def test_import_csv_maps_columns_and_skips_empty_messages(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "export.csv",
        ["Text", "Title", "Prio", "Client", "Total", "Flags"],
        [
            [
                "My kettle arrived cracked.\r\nPlease help!",
                "Broken kettle",
                "high",
                "Maria Rossi",
                "49,90",
                "safety_issue;repeat_contact",
            ],
            ["   ", "Empty one", "low", "", "", ""],
            ["Where is my parcel?", "", "normal", "", "12.5", ""],
        ],
    )
    out = tmp_path / "out" / "tickets.jsonl"
    mapping = parse_mapping(
        "message=Text,subject=Title,labels.urgency=Prio,customer.name=Client,order.amount=Total,labels.escalation=Flags"
    )

    summary = import_csv(source, out, mapping, id_prefix="shop", limit=None)

    assert (summary.written, summary.skipped) == (2, 1)
    assert summary.problems == ["4: empty message (row 2)"]  # the multi-line first record spans lines 2-3
    assert summary.line() == f"wrote 2 tickets to {out}; skipped 1"
    first, second = read_jsonl(out)
    assert first == {
        "id": "shop-1",
        "message": "My kettle arrived cracked.\nPlease help!",
        "subject": "Broken kettle",
        "labels": {"urgency": "high", "escalation": ["safety_issue", "repeat_contact"]},
        "customer": {"name": "Maria Rossi"},
        "order": {"amount": 49.9},
    }
    assert second["id"] == "shop-3"  # ids follow the source row, so re-imports keep them
    assert "subject" not in second
    dataset = load_dataset(out)
    assert dataset.errors == []
    assert [t.id for t in dataset.tickets] == ["shop-1", "shop-3"]


def test_import_csv_reports_missing_columns_and_respects_limit(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "a.csv", ["body"], [[f"message {i}"] for i in range(10)])

    with pytest.raises(ValueError, match="no column\\(s\\) text"):
        import_csv(source, tmp_path / "x.jsonl", {"message": "text"}, id_prefix="a", limit=None)
    summary = import_csv(source, tmp_path / "y.jsonl", {"message": "body"}, id_prefix="a", limit=3)

    assert summary.written == 3
    assert [r["id"] for r in read_jsonl(tmp_path / "y.jsonl")] == ["a-1", "a-2", "a-3"]


def test_import_bitext_intent_and_replies_files(tmp_path: Path) -> None:
    intents = write_csv(
        tmp_path / "intent_dev_3.csv",
        [
            "utterance",
            "intent",
            "entity_type",
            "entity_value",
            "start_offset",
            "end_offset",
            "category",
            "tags",
        ],
        [
            ["how can I cancel purchase 1?", "cancel_order", "order_id", "1", "26", "27", "ORDER", "BIL"],
            ["", "track_order", "", "", "", "", "ORDER", "B"],
        ],
    )
    replies = write_csv(
        tmp_path / "replies_sample_1.csv",
        ["context", "role", "instruction", "intent", "category", "tags", "response"],
        [
            [
                "cs",
                "va",
                "I want a refund",
                "get_refund",
                "REFUND",
                "BL",
                "Sure,\nhere is how {{Order Number}}",
            ]
        ],
    )

    summary = import_bitext(intents, tmp_path / "i.jsonl", limit=None)
    replies_summary = import_bitext(replies, tmp_path / "r.jsonl", limit=None)

    assert (summary.written, summary.skipped) == (1, 1)
    assert read_jsonl(tmp_path / "i.jsonl") == [
        {
            "id": "bitext-intent-dev-1",
            "message": "how can I cancel purchase 1?",
            "labels": {"intent": "cancel_order", "language": "en", "category": "ORDER", "tags": "BIL"},
        }
    ]
    (reply,) = read_jsonl(tmp_path / "r.jsonl")
    assert reply["id"] == "bitext-replies-sample-1"
    assert reply["message"] == "I want a refund"
    assert reply["reference_reply"] == "Sure,\nhere is how {{Order Number}}"
    assert reply["labels"]["intent"] == "get_refund"
    assert replies_summary.written == 1


def test_import_bitext_rejects_other_files(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "x.csv", ["body"], [["hi"]])

    with pytest.raises(ValueError, match="not a Bitext file"):
        import_bitext(source, tmp_path / "x.jsonl", limit=None)


def test_import_tickets_en_de_maps_priority_queue_and_language(tmp_path: Path) -> None:
    header = ["subject", "body", "answer", "type", "queue", "priority", "language"] + [f"tag_{i}" for i in range(1, 9)]
    source = write_csv(
        tmp_path / "tickets_en_de_3.csv",
        header,
        [
            [
                "Absturz",
                "Die Plattform\nstürzt ab.",
                "Wir helfen.",
                "Incident",
                "Technical Support",
                "medium",
                "de",
                "Crash",
                "Bug",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            [
                "",
                "Refund please",
                "",
                "Request",
                "Billing and Payments",
                "high",
                "en",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            ["Nothing", "", "x", "Request", "Billing", "low", "en", "", "", "", "", "", "", "", ""],
        ],
    )

    summary = import_tickets_en_de(source, tmp_path / "t.jsonl", limit=None)

    assert (summary.written, summary.skipped) == (2, 1)
    first, second = read_jsonl(tmp_path / "t.jsonl")
    assert first == {
        "id": "tk-en-de-1",
        "message": "Die Plattform\nstürzt ab.",
        "subject": "Absturz",
        "reference_reply": "Wir helfen.",
        "labels": {
            "urgency": "normal",
            "queue": "Technical Support",
            "language": "de",
            "type": "Incident",
            "tags": ["Crash", "Bug"],
        },
    }
    assert second["labels"]["urgency"] == "high"
    assert "subject" not in second
    assert "reference_reply" not in second


def test_summary_line_without_output_path() -> None:
    assert ImportSummary(written=3, skipped=0).line() == "wrote 3 tickets; skipped 0"


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared datasets not checked out beside the repo")
def test_real_shared_datasets_import_and_load(tmp_path: Path) -> None:
    cases = [
        (SHARED / "bitext" / "intent_dev_810.csv", import_bitext),
        (SHARED / "bitext" / "replies_sample_4514.csv", import_bitext),
        (SHARED / "support_tickets_en_de" / "tickets_en_de_2181.csv", import_tickets_en_de),
    ]
    for source, importer in cases:
        if not source.is_file():
            pytest.skip(f"{source} missing")
        out = tmp_path / f"{source.stem}.jsonl"

        summary = importer(source, out, limit=200)

        assert summary.written == 200, source
        dataset = load_dataset(out)
        assert dataset.errors == [], source
        assert len(dataset.tickets) == 200
        assert all(t.labels.get("language") in {"en", "de"} for t in dataset.tickets)
        assert all(t.message.strip() for t in dataset.tickets)
    tickets = read_jsonl(tmp_path / "tickets_en_de_2181.jsonl")
    assert {t["labels"]["urgency"] for t in tickets} <= {"high", "normal", "low"}
    assert all(t["reference_reply"] for t in read_jsonl(tmp_path / "replies_sample_4514.jsonl"))


def test_import_refuses_to_overwrite_its_source_and_leaves_no_half_file(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "a.csv", ["body"], [["fine"], ["x" * 200_000], ["never reached"]])
    out = tmp_path / "out.jsonl"

    with pytest.raises(ValueError, match="is the source file"):
        import_csv(source, source, {"message": "body"}, id_prefix="a", limit=None)
    with pytest.raises(ValueError, match=r"CSV error after row 1: field larger than field limit"):
        import_csv(source, out, {"message": "body"}, id_prefix="a", limit=None)

    assert source.read_text(encoding="utf-8").startswith("body")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]
