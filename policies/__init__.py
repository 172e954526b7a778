"""Guideline rules and the packs managers pick in policies.yaml.

Installed as helpforce.policies.
"""

from __future__ import annotations

if __name__ != "helpforce.policies":  # pragma: no cover - a guard, not a feature
    raise ImportError(f"import this package as helpforce.policies, not {__name__!r}")

from collections.abc import Mapping
from typing import Any

from helpforce.policies.privacy import NoPrivateDataAskInPublic
from helpforce.policy import Rule, RuleEngine

#: pack name -> rule constructors taking the pack's parameters
PACKS: dict[str, Any] = {
    "privacy": lambda params: [NoPrivateDataAskInPublic(**params)],  # params: suggestion
}


def build_engine(packs: Mapping[str, Mapping[str, Any]]) -> RuleEngine:
    """A rule engine for the packs named in policies.yaml, with their parameters."""
    rules: list[Rule] = []
    for name, params in packs.items():
        if name not in PACKS:
            raise ValueError(f"unknown policy pack {name!r} (known: {', '.join(sorted(PACKS))})")
        try:
            rules.extend(PACKS[name](dict(params or {})))
        except TypeError as exc:
            raise ValueError(f"policy pack {name!r}: bad parameters ({exc})") from None
    return RuleEngine(rules)
