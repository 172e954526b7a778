"""Guideline rules and the packs managers pick in policies.yaml.

Installed as helpforce.policies: the detectors rules name (:data:`DETECTORS`) and the shipped
packs (``packs/*.yaml``, package data). :func:`build_engine` turns policies.yaml's ``packs``
and ``rules`` into a :class:`~helpforce.policy.RuleEngine`.
"""

from __future__ import annotations

if __name__ != "helpforce.policies":  # pragma: no cover - a guard, not a feature
    raise ImportError(f"import this package as helpforce.policies, not {__name__!r}")

from collections.abc import Mapping, Sequence
from typing import Any

from helpforce.policies.detectors import DETECTORS
from helpforce.policies.packs import Pack, available_packs, load_pack
from helpforce.policy import (
    PolicyError,
    Rule,
    RuleEngine,
    RuleSpec,
    compile_rule,
    rule_problems,
)

__all__ = ["DETECTORS", "Pack", "available_packs", "build_engine", "load_pack", "pack_rules"]


def pack_rules(name: str, params: Mapping[str, Any] | None = None) -> list[RuleSpec]:
    """The rules of one pack with its parameters applied."""
    return load_pack(name).rules(params or {})


def build_engine(
    packs: Mapping[str, Mapping[str, Any]], rules: Sequence[Mapping[str, Any]] = ()
) -> RuleEngine:
    """A rule engine for the packs named in policies.yaml and the managers' own rules.

    Raises PolicyError (a ValueError) naming the pack, rule and problem.
    """
    compiled: list[Rule] = []
    for name, params in packs.items():
        try:
            specs = pack_rules(name, params)
        except PolicyError as exc:
            raise PolicyError(str(exc), ("packs", name, *exc.loc)) from None
        for spec in specs:
            compiled.append(compile_rule(spec, DETECTORS))
    problems = rule_problems(rules)
    if problems:
        raise problems[0]
    compiled.extend(compile_rule(RuleSpec.model_validate(r), DETECTORS) for r in rules)
    return RuleEngine(compiled)
