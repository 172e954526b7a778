"""The policy engine: every text the desk sends passes :meth:`PolicyEngine.check` before it
reaches the outbox, staff posts made outside the bot are checked after the fact, and customer
texts coming in are checked too (a customer posting their own data in public). Each verdict is
recorded by the desk.

A rule is data (:class:`RuleSpec`, from a pack's YAML or the managers' policies.yaml): an id,
where it applies (:class:`Scope`), what detects it (a named detector from
``helpforce.policies`` with its parameters), the action, the message staff see, a suggestion,
and examples that must and must not trigger it. The engine runs the content rules first; if
none stops the text, transforming rules (append a signature, split for a platform's length
limit) shape what is sent.
"""

from __future__ import annotations

import enum
import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Action(enum.StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    REWRITE = "rewrite"
    APPEND = "append"
    MOVE_TO_DM = "move_to_dm"
    BLOCK = "block"
    ESCALATE = "escalate"


#: actions that stop a text from going out where and as the staff wrote it
STOPPING = frozenset({Action.MOVE_TO_DM, Action.BLOCK, Action.ESCALATE})
#: actions that change the text that is sent
TRANSFORMING = frozenset({Action.REWRITE, Action.APPEND})

# the order in which competing verdicts win: the most restrictive one
SEVERITY = {
    Action.ALLOW: 0,
    Action.APPEND: 1,
    Action.REWRITE: 2,
    Action.WARN: 3,
    Action.MOVE_TO_DM: 4,
    Action.ESCALATE: 5,
    Action.BLOCK: 6,
}


@dataclass(frozen=True, slots=True)
class CheckContext:
    direction: str  # "in" | "out"
    visibility: str  # "public" | "private"
    platform: str
    role: str  # "customer" | "agent" | "lead" | "manager" | "bot"
    #: who reads it: "customer" or "staff" (offers and notices to staff)
    audience: str = "customer"
    #: the signature the text should carry (e.g. " ^JD"), for the signature rule
    signature: str | None = None
    #: posted by staff from their own account, outside the bot (checked after the fact)
    direct: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired."""

    rule_id: str
    action: Action
    message: str
    suggestion: str | None = None
    overridable: bool = False
    #: for transforming rules: the text(s) to send instead
    replacement: tuple[str, ...] = ()
    #: the text with private data masked, to show staff instead of the original
    redacted: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule_id, "action": self.action.value,
                               "message": self.message}
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    rule_id: str | None = None
    #: shown to staff: why the deciding rule fired
    message: str = ""
    #: a compliant text staff can send instead
    suggestion: str | None = None
    findings: tuple[Finding, ...] = ()
    #: what to send when allowed (after appends and splits); empty: the text as written
    parts: tuple[str, ...] = ()

    @property
    def redacted(self) -> str | None:
        """The text with private data masked, when a rule found some."""
        for f in self.findings:
            if f.redacted is not None:
                return f.redacted
        return None

    @property
    def stops(self) -> bool:
        return self.action in STOPPING

    @property
    def allowed(self) -> bool:
        """False exactly when the content may not go out there as the staff wrote it."""
        return not self.stops

    @property
    def overridable(self) -> bool:
        """A lead may send it anyway: every stopping rule that fired allows overrides."""
        stopping = [f for f in self.findings if f.action in STOPPING]
        return bool(stopping) and all(f.overridable for f in stopping)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(f.rule_id for f in self.findings)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.action is Action.WARN)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action.value,
            "allowed": self.allowed,
            "rules": list(self.rules),
            "reasons": [f.message for f in self.findings],
        }
        if self.suggestion:
            out["suggestion"] = self.suggestion
        if self.parts:
            out["parts"] = list(self.parts)
        return out


ALLOW = Verdict(Action.ALLOW)


# -- rules as data ------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _tuple_of_str(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


class Scope(_Frozen):
    """Where a rule applies; an empty list means every value."""

    direction: tuple[Literal["in", "out"], ...] = ("out",)
    visibility: tuple[Literal["public", "private"], ...] = ("public", "private")
    platforms: tuple[str, ...] = ()
    roles: tuple[Literal["customer", "agent", "lead", "manager", "bot"], ...] = ()
    audience: tuple[Literal["customer", "staff"], ...] = ("customer",)
    #: only staff posts made outside the bot (True), only texts through the bot (False)
    direct: bool | None = None

    _v = field_validator("direction", "visibility", "platforms", "roles", "audience",
                         mode="before")(_tuple_of_str)

    def matches(self, ctx: CheckContext) -> bool:
        return (
            (not self.direction or ctx.direction in self.direction)
            and (not self.visibility or ctx.visibility in self.visibility)
            and (not self.platforms or ctx.platform in self.platforms)
            and (not self.roles or ctx.role in self.roles)
            and (not self.audience or ctx.audience in self.audience)
            and (self.direct is None or ctx.direct == self.direct)
        )


class Example(_Frozen):
    text: str
    direction: Literal["in", "out"] | None = None
    visibility: Literal["public", "private"] | None = None
    platform: str | None = None
    role: str | None = None
    audience: Literal["customer", "staff"] | None = None
    signature: str | None = None
    direct: bool | None = None


def _examples(value: Any) -> Any:
    if isinstance(value, list):
        return [{"text": v} if isinstance(v, str) else v for v in value]
    return value


class Examples(_Frozen):
    #: texts that must trigger the rule
    trigger: tuple[Example, ...] = ()
    #: texts that must not
    allow: tuple[Example, ...] = ()

    _v = field_validator("trigger", "allow", mode="before")(_examples)


_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class RuleSpec(_Frozen):
    id: str
    description: str = ""
    applies: Scope = Scope()
    #: ``{detector: NAME, ...parameters}``, or the shorthands ``{patterns: [...]}``,
    #: ``{phrases: [...]}``
    detect: dict[str, Any]
    action: Action
    #: shown to staff when the rule fires
    message: str = Field(min_length=1)
    #: a compliant text to offer staff instead (detectors may compute one)
    suggestion: str | None = None
    #: leads may send the text anyway, with a reason (recorded)
    overridable: bool = False
    examples: Examples = Examples()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _RULE_ID.fullmatch(value):
            raise ValueError(
                f"expected a rule id of lowercase letters, digits, '.', '_', '-', got {value!r}"
            )
        return value

    @field_validator("detect")
    @classmethod
    def _detect(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "detector" in value:
            if not isinstance(value["detector"], str):
                raise ValueError("detect.detector must be a detector name")
            return value
        shorthands = [k for k in ("patterns", "phrases") if k in value]
        if len(shorthands) != 1:
            raise ValueError("detect needs 'detector: NAME', or one of 'patterns' or 'phrases'")
        return {"detector": shorthands[0], **value}


# -- detectors: implemented in helpforce.policies -------------------------------------------


@dataclass(frozen=True, slots=True)
class Detection:
    """What a detector found."""

    #: a compliant text computed by the detector (e.g. the text with data redacted)
    suggestion: str | None = None
    #: for transforming rules: the text(s) to send instead
    replacement: tuple[str, ...] = ()
    #: extra words for the staff message (e.g. which data)
    detail: str = ""
    #: the text with private data masked
    redacted: str | None = None


class Detector(Protocol):
    def __call__(self, text: str, ctx: CheckContext) -> Detection | None:
        ...


#: detector name -> factory taking the rule's ``detect`` parameters (without ``detector``);
#: a factory raises ValueError or TypeError for bad parameters
DetectorFactory = Callable[..., Detector]


class Rule:
    """A compiled rule."""

    def __init__(self, spec: RuleSpec, detector: Detector) -> None:
        self.spec = spec
        self.id = spec.id
        self.detector = detector

    def check(self, text: str, ctx: CheckContext) -> Finding | None:
        if not self.spec.applies.matches(ctx):
            return None
        return self.detect(text, ctx)

    def detect(self, text: str, ctx: CheckContext) -> Finding | None:
        """Run the detector, assuming the rule applies here."""
        hit = self.detector(text, ctx)
        if hit is None:
            return None
        message = self.spec.message
        if hit.detail:
            message = f"{message} ({hit.detail})"
        suggestion = hit.suggestion if hit.suggestion is not None else self.spec.suggestion
        return Finding(
            self.id, self.spec.action, message, suggestion, self.spec.overridable,
            hit.replacement, hit.redacted,
        )


def compile_rule(spec: RuleSpec, detectors: Mapping[str, DetectorFactory]) -> Rule:
    params = {k: v for k, v in spec.detect.items() if k != "detector"}
    name = spec.detect["detector"]
    factory = detectors.get(name)
    if factory is None:
        raise ValueError(f"unknown detector {name!r} (known: {', '.join(sorted(detectors))})")
    try:
        detector = factory(**params)
    except TypeError as exc:
        raise ValueError(f"detector {name!r}: bad parameters ({exc})") from None
    return Rule(spec, detector)


class PolicyEngine(Protocol):
    def check(self, text: str, ctx: CheckContext) -> Verdict:
        ...


@dataclass
class RuleEngine:
    """Runs the content rules, then (if nothing stops the text) the transforming ones."""

    rules: Sequence[Rule] = ()
    _content: tuple[Rule, ...] = field(init=False, default=())
    _transforms: tuple[Rule, ...] = field(init=False, default=())
    #: the rules that apply in a context, worked out once per kind of context
    _applicable: dict[tuple[object, ...], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.rules = tuple(self.rules)
        self._content = tuple(r for r in self.rules if r.spec.action not in TRANSFORMING)
        # appends first, splits (rewrite) last: a signature must be inside every part
        self._transforms = tuple(
            sorted((r for r in self.rules if r.spec.action in TRANSFORMING),
                   key=lambda r: r.spec.action is Action.REWRITE)
        )

    def _rules_for(self, ctx: CheckContext) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        key = (ctx.direction, ctx.visibility, ctx.platform, ctx.role, ctx.audience, ctx.direct)
        found = self._applicable.get(key)
        if found is None:
            if len(self._applicable) > 4096:
                self._applicable.clear()
            found = self._applicable[key] = (
                tuple(r for r in self._content if r.spec.applies.matches(ctx)),
                tuple(r for r in self._transforms if r.spec.applies.matches(ctx)),
            )
        return found

    def check(self, text: str, ctx: CheckContext) -> Verdict:
        content, transforms = self._rules_for(ctx)
        if not content and not transforms:
            return ALLOW
        findings = [f for r in content if (f := r.detect(text, ctx)) is not None]
        best: Finding | None = None
        for f in findings:
            if best is None or SEVERITY[f.action] > SEVERITY[best.action]:
                best = f
        if best is not None and best.action in STOPPING:
            return Verdict(best.action, best.rule_id, best.message, best.suggestion,
                           tuple(findings))
        parts: tuple[str, ...] = ()
        current: tuple[str, ...] = (text,)
        for rule in transforms:
            out: list[str] = []
            fired: Finding | None = None
            for piece in current:
                f = rule.detect(piece, ctx)
                if f is None:
                    out.append(piece)
                    continue
                fired = fired or f
                if f.action in STOPPING:
                    break
                out.extend(f.replacement or (piece,))
            if fired is not None:
                findings.append(fired)
                current = tuple(out)
                parts = current
        transformed = [f for f in findings if f.action in TRANSFORMING]
        stopping = [f for f in findings if f.action in STOPPING]
        if stopping:
            s = stopping[0]
            return Verdict(s.action, s.rule_id, s.message, s.suggestion, tuple(findings))
        if best is None and not transformed:
            return ALLOW if not findings else Verdict(Action.ALLOW, findings=tuple(findings))
        decider = best if best is not None else transformed[-1]
        return Verdict(decider.action, decider.rule_id, decider.message, decider.suggestion,
                       tuple(findings), parts)


# -- loading ------------------------------------------------------------------------------


class PolicyError(ValueError):
    """A pack or rule that cannot be used; ``loc`` says where in policies.yaml."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


def rule_problems(rules: Sequence[Mapping[str, Any]]) -> list[PolicyError]:
    """Every problem in the managers' own rules, located as ``rules[i].field``."""
    module = importlib.import_module("helpforce.policies")
    detectors: Mapping[str, DetectorFactory] = module.DETECTORS
    problems: list[PolicyError] = []
    seen: set[str] = set()
    for i, raw in enumerate(rules):
        try:
            spec = RuleSpec.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("rules", i, *err["loc"])
                problems.append(PolicyError(err["msg"].removeprefix("Value error, "), loc))
            continue
        if spec.id in seen:
            problems.append(PolicyError(f"duplicate rule id {spec.id!r}", ("rules", i, "id")))
        seen.add(spec.id)
        try:
            compile_rule(spec, detectors)
        except ValueError as exc:
            problems.append(PolicyError(str(exc), ("rules", i, "detect")))
    return problems


def load_engine(
    packs: Mapping[str, Mapping[str, Any]], rules: Sequence[Mapping[str, Any]] = ()
) -> RuleEngine:
    """The engine for the packs policies.yaml names (with their parameters) and the
    managers' own rules, built by ``helpforce.policies``."""
    module = importlib.import_module("helpforce.policies")
    engine: RuleEngine = module.build_engine(packs, rules)
    return engine
