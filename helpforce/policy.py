"""The policy seam: every text the desk sends passes :meth:`PolicyEngine.check` before it
reaches the outbox, and the verdict is recorded.

The rules themselves live in ``helpforce.policies`` (package data and rule code); the core
only knows this small contract, so the full guideline engine can replace the minimal one
without touching the desk.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Action(enum.StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    REWRITE = "rewrite"
    APPEND = "append"
    MOVE_TO_DM = "move_to_dm"
    BLOCK = "block"
    ESCALATE = "escalate"


#: actions that stop a text from being sent as it is
STOPPING = frozenset({Action.MOVE_TO_DM, Action.BLOCK, Action.ESCALATE})


@dataclass(frozen=True, slots=True)
class CheckContext:
    direction: str  # "in" | "out"
    visibility: str  # "public" | "private"
    platform: str
    role: str  # "customer" | "agent" | "lead" | "manager" | "bot"
    #: who reads it: "customer" or "staff" (offers and notices to staff)
    audience: str = "customer"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    rule_id: str | None = None
    #: shown to staff: why the rule fired
    message: str = ""
    #: a compliant text staff can send instead
    suggestion: str | None = None

    @property
    def stops(self) -> bool:
        return self.action in STOPPING


ALLOW = Verdict(Action.ALLOW)


class Rule(Protocol):
    id: str

    def check(self, text: str, ctx: CheckContext) -> Verdict | None:
        """A verdict if the rule fires, else None."""
        ...


# the order in which competing verdicts win: the most restrictive one
_SEVERITY = {
    Action.ALLOW: 0,
    Action.WARN: 1,
    Action.APPEND: 2,
    Action.REWRITE: 3,
    Action.MOVE_TO_DM: 4,
    Action.ESCALATE: 5,
    Action.BLOCK: 6,
}


class PolicyEngine(Protocol):
    def check(self, text: str, ctx: CheckContext) -> Verdict:
        ...


class RuleEngine:
    """Runs every rule and returns the most restrictive verdict."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def check(self, text: str, ctx: CheckContext) -> Verdict:
        best = ALLOW
        for rule in self.rules:
            verdict = rule.check(text, ctx)
            if verdict is not None and _SEVERITY[verdict.action] > _SEVERITY[best.action]:
                best = verdict
        return best


def load_engine(packs: Mapping[str, Mapping[str, Any]]) -> PolicyEngine:
    """The engine for the packs policies.yaml names, built by ``helpforce.policies``."""
    module = importlib.import_module("helpforce.policies")
    engine: PolicyEngine = module.build_engine(packs)
    return engine
