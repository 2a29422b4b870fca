"""Training a triage model from a labeled-ticket dataset (`replydesk triage train`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.triage.model import HEADS, TriageModel, train
from app.triage.text import classifier_text
from evals.dataset import Dataset, LabeledTicket, load_dataset, split
from retrieval.embeddings import Embedder


@dataclass(slots=True)
class TrainReport:
    model: TriageModel
    dataset: Dataset
    used: int
    out: Path


def train_from_tickets(tickets: list[LabeledTicket], embedder: Embedder, *, dataset_id: str = "") -> TriageModel:
    texts = [classifier_text(t.message, t.subject) for t in tickets]
    labels: dict[str, list[str | None]] = {head: [t.label(head) for t in tickets] for head in HEADS}
    return train(texts, labels, embedder, dataset_id=dataset_id)


def train_dataset(path: Path, out: Path, embedder: Embedder, *, part: str = "train") -> TrainReport:
    """Train on ``part`` (train / all) of the dataset at ``path`` and save the model to ``out``."""
    dataset = load_dataset(path)
    tickets = split(dataset, part)
    if not tickets:
        raise ValueError(f"no usable tickets in {path} ({len(dataset.errors)} lines rejected)")
    model = train_from_tickets(tickets, embedder, dataset_id=path.stem)
    model.manifest["dataset"] = {
        "path": str(path),
        "fingerprint": dataset.fingerprint,
        "split": part,
        "rejected_lines": len(dataset.errors),
    }
    model.save(out)
    return TrainReport(model, dataset, len(tickets), out)


def model_is_current(model_dir: Path, dataset_path: Path) -> bool:
    """True when ``model_dir`` holds a model trained on the dataset as it is now."""
    try:
        model = TriageModel.load(model_dir)
    except (FileNotFoundError, OSError, ValueError, KeyError):
        return False
    recorded = model.manifest.get("dataset", {})
    try:
        fingerprint = load_dataset(dataset_path).fingerprint
    except FileNotFoundError:
        return True  # nothing to compare with: keep what we have
    return bool(recorded.get("fingerprint") == fingerprint)
