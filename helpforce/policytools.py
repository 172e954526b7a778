"""What ``helpforce policy check|test|eval`` do: check texts, run every rule's examples, and
measure a labelled set."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpforce.policy import CheckContext, Example, Rule, RuleEngine

ROLES_BY_DIRECTION = {"in": "customer", "out": "agent"}


def parse_line(
    line: str, *, direction: str, visibility: str, platform: str, role: str | None
) -> tuple[str, CheckContext]:
    """One stdin line: plain text, or a JSON object with "text" and optional "direction",
    "visibility", "platform", "role"."""
    text = line.rstrip("\n")
    fields: dict[str, Any] = {}
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            fields, text = obj, obj["text"]
    d = str(fields.get("direction", direction))
    ctx = CheckContext(
        direction=d,
        visibility=str(fields.get("visibility", visibility)),
        platform=str(fields.get("platform", platform)),
        role=str(fields.get("role", role or ROLES_BY_DIRECTION.get(d, "agent"))),
        audience="staff" if d == "in" else "customer",
    )
    return text, ctx


def example_context(rule: Rule, ex: Example) -> CheckContext:
    scope = rule.spec.applies
    direction = ex.direction or (scope.direction[0] if scope.direction else "out")
    return CheckContext(
        direction=direction,
        visibility=ex.visibility or (scope.visibility[0] if scope.visibility else "public"),
        platform=ex.platform or (scope.platforms[0] if scope.platforms else "local"),
        role=ex.role or (scope.roles[0] if scope.roles else ROLES_BY_DIRECTION[direction]),
        audience=ex.audience or (scope.audience[0] if scope.audience else
                                 ("staff" if direction == "in" else "customer")),
        signature=ex.signature,
        direct=ex.direct if ex.direct is not None else bool(scope.direct),
    )


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    expected: str  # "trigger" | "allow"
    text: str
    ok: bool


def run_examples(engine: RuleEngine) -> list[ExampleResult]:
    """Every example of every rule, checked against its rule alone."""
    results = []
    for rule in engine.rules:
        for expected, examples in (("trigger", rule.spec.examples.trigger),
                                   ("allow", rule.spec.examples.allow)):
            for ex in examples:
                fired = rule.check(ex.text, example_context(rule, ex)) is not None
                results.append(ExampleResult(rule.id, expected, ex.text,
                                             fired == (expected == "trigger")))
    return results


#: what each label in a labelled set expects of the privacy rules
LABEL_OUTCOME = {
    "public_ask": "public_ask",
    "secret_ask": "secret_ask",
    "data_exposed": "data_exposed",
    "customer_data": "customer_data",
    "dm_ask": "allowed",
    "harmless": "allowed",
    "customer_clean": "allowed",
}
_RULE_OUTCOME = (
    ("privacy.secret-ask", "secret_ask"),
    ("privacy.ask-in-public", "public_ask"),
    ("privacy.data-in-public", "data_exposed"),
    ("privacy.customer-posted-data", "customer_data"),
)


def read_labelled(path: Path) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
            if not row or (i == 0 and row[0] == "label"):
                continue
            if len(row) < 2 or row[0] not in LABEL_OUTCOME:
                raise ValueError(
                    f"{path}:{i + 1}: expected LABEL<TAB>TEXT with a label among "
                    f"{', '.join(LABEL_OUTCOME)}, got {row[:1]!r}"
                )
            yield row[0], "\t".join(row[1:])


def predict(engine: RuleEngine, label: str, text: str) -> str:
    direction = "in" if label.startswith("customer_") else "out"
    ctx = CheckContext(direction, "public", "local", ROLES_BY_DIRECTION[direction],
                       audience="staff" if direction == "in" else "customer")
    fired = {f.rule_id for f in engine.check(text, ctx).findings}
    for rule_id, outcome in _RULE_OUTCOME:
        if rule_id in fired:
            return outcome
    return "allowed"


def evaluate(engine: RuleEngine, rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Recall per gold label, precision per predicted outcome, and the two headline rates."""
    per_label: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    predicted_right: Counter[str] = Counter()
    misses: list[dict[str, str]] = []
    for label, text in rows:
        want = LABEL_OUTCOME[label]
        got = predict(engine, label, text)
        per_label[label] += 1
        predicted[got] += 1
        if got == want:
            correct[label] += 1
            predicted_right[got] += 1
        elif len(misses) < 200:
            misses.append({"label": label, "predicted": got, "text": text})
    labels = {
        label: {"n": n, "recall": round(correct[label] / n, 4)}
        for label, n in sorted(per_label.items())
    }
    outcomes = {
        o: {"predicted": n, "precision": round(predicted_right[o] / n, 4)}
        for o, n in sorted(predicted.items())
    }
    allowed_n = sum(per_label[x] for x in ("dm_ask", "harmless"))
    allowed_ok = sum(correct[x] for x in ("dm_ask", "harmless"))
    asks_n = per_label["public_ask"]
    return {
        "labels": labels,
        "outcomes": outcomes,
        "public_asks_caught": round(correct["public_ask"] / asks_n, 4) if asks_n else None,
        "dm_asks_and_harmless_allowed": round(allowed_ok / allowed_n, 4) if allowed_n else None,
        "misses": misses,
    }
