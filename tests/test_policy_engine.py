"""The policy engine: the privacy pack's ask rule on many phrasings, how the engine picks
and combines verdicts, and loading packs with parameters."""

from __future__ import annotations

import pytest

from helpforce.policies import available_packs, build_engine
from helpforce.policies.normalize import normalize
from helpforce.policy import (
    ALLOW,
    Action,
    CheckContext,
    Detection,
    PolicyError,
    Rule,
    RuleEngine,
    RuleSpec,
    Verdict,
    load_engine,
)

RULE_ID = "privacy.ask-in-public"

PUBLIC_OUT = CheckContext("out", "public", "local", "agent")
PRIVATE_OUT = CheckContext("out", "private", "local", "agent")
PUBLIC_TO_STAFF = CheckContext("out", "public", "local", "bot", audience="staff")
PUBLIC_IN = CheckContext("in", "public", "local", "customer")

ASKS = [
    "What is your order number?",
    "what's your order number",
    "Could you share your order #?",
    "Please send your order no. and we'll check.",
    "Can you tell me your account number?",
    "Would you provide your email address?",
    "Please reply with your e-mail so we can help.",
    "What's ur phone number?",
    "Can you give me your phone so we can call?",
    "Please post your delivery address here.",
    "Could you share your home address?",
    "We need your tracking number to look into it.",
    "What is your date of birth?",
    "Please include your zip code.",
    # zero-width characters hidden inside the words
    "What is your or\u200bder num\u200cber?",
    "Please send your e\u200d-mail\u2060 address",
    "Can you share your pho\ufeffne number?",
    # fullwidth letters
    "What is your \uff4f\uff52\uff44\uff45\uff52 \uff4e\uff55\uff4d\uff42\uff45\uff52?",
    "\uff30\uff4c\uff45\uff41\uff53\uff45 send your \uff45\uff4d\uff41\uff49\uff4c",
    # upper case
    "WHAT IS YOUR ORDER NUMBER?",
]

NOT_ASKS = [
    "Turn off the eco timer in the power settings.",
    "Your order has shipped and should arrive on Monday.",
    "We have updated the address of our store on the website.",
    "Thanks! The phone app is available in the store.",
    "",
]

VIA_PRIVATE = [
    "Please DM us your order number.",
    "Could you send your order number in a direct message?",
    "Please send us a private message with your e-mail address.",
    "Can you share your phone number privately?",
    "Please send your address through our secure form.",
    "Sorry about this! Please send us a direct message with your order number "
    "and we'll look into it right away.",
]


class AskRule:
    """The privacy pack's ask rule, seen through the whole engine."""

    def __init__(self, **params: object) -> None:
        self.engine = load_engine({"privacy": params})

    def check(self, text: str, ctx: CheckContext) -> Verdict | None:
        verdict = self.engine.check(text, ctx)
        return verdict if RULE_ID in verdict.rules else None


@pytest.fixture(scope="module")
def rule() -> AskRule:
    return AskRule()
@pytest.mark.parametrize("text", ASKS)
def test_public_asks_for_private_data_are_moved_to_dm(
    rule: AskRule, text: str
) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None, text
    assert verdict.action is Action.MOVE_TO_DM
    assert verdict.stops
    assert verdict.rule_id == RULE_ID
    assert "private" in verdict.message
    assert verdict.suggestion and "private message" in verdict.suggestion


@pytest.mark.parametrize("text", ASKS)
def test_the_same_asks_in_private_are_fine(rule: AskRule, text: str) -> None:
    assert rule.check(text, PRIVATE_OUT) is None


@pytest.mark.parametrize("text", ASKS)
def test_texts_for_staff_and_customer_texts_are_not_checked(
    rule: AskRule, text: str
) -> None:
    assert rule.check(text, PUBLIC_TO_STAFF) is None
    assert rule.check(text, PUBLIC_IN) is None


@pytest.mark.parametrize("text", NOT_ASKS)
def test_texts_without_an_ask_pass(rule: AskRule, text: str) -> None:
    assert rule.check(text, PUBLIC_OUT) is None


@pytest.mark.parametrize("text", VIA_PRIVATE)
def test_asking_to_use_a_private_channel_is_fine_in_public(
    rule: AskRule, text: str
) -> None:
    assert rule.check(text, PUBLIC_OUT) is None


def test_a_private_channel_mention_elsewhere_does_not_excuse_an_ask(
    rule: AskRule,
) -> None:
    text = (
        "We got your direct message yesterday, thanks. "
        + "Meanwhile, could you post it here in the thread for everyone: "
        + "what is your order number?"
    )
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


def test_the_suggestion_is_a_pack_parameter() -> None:
    verdict = AskRule(dm_suggestion="Please DM us.").check("What is your order number?",
                                                          PUBLIC_OUT)
    assert verdict is not None and verdict.suggestion == "Please DM us."
    # and the default suggestion itself passes the rule
    default = AskRule().check("What is your e-mail?", PUBLIC_OUT)
    assert default is not None and default.suggestion
    assert AskRule().check(default.suggestion, PUBLIC_OUT) is None


def test_normalize_folds_fullwidth_and_drops_zero_width() -> None:
    assert normalize("\uff4f\uff52\u200b\uff44\uff45\uff52").text == "order"


# -- the engine -------------------------------------------------------------------------------


def fixed(rule_id: str, action: Action | None, seen: list[tuple[str, CheckContext]]) -> Rule:
    """A rule whose detector always (or never) fires, recording what it saw."""

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        seen.append((text, ctx))
        return None if action is None else Detection()

    spec = RuleSpec(id=rule_id, detect={"detector": "fixed"},
                    action=action or Action.WARN, message=f"{rule_id} says",
                    applies={"direction": [], "visibility": [], "audience": []})
    return Rule(spec, detect)


def test_the_engine_returns_the_most_restrictive_verdict() -> None:
    order = [Action.WARN, Action.MOVE_TO_DM, Action.ESCALATE, Action.BLOCK]
    for i, strongest in enumerate(order):
        seen: list[tuple[str, CheckContext]] = []
        rules = [fixed(f"r{j}", a, seen) for j, a in enumerate(order[:i])]
        rules.insert(len(rules) // 2, fixed("strongest", strongest, seen))
        rules.append(fixed("silent", None, seen))
        verdict = RuleEngine(rules).check("text", PUBLIC_OUT)
        assert verdict.action is strongest
        assert verdict.rule_id == "strongest"
        # every content rule saw the text and its context
        assert seen == [("text", PUBLIC_OUT)] * len(rules)


def test_the_first_of_equally_restrictive_verdicts_wins() -> None:
    seen: list[tuple[str, CheckContext]] = []
    engine = RuleEngine([fixed("a", Action.BLOCK, seen), fixed("b", Action.BLOCK, seen)])
    assert engine.check("x", PUBLIC_OUT).rule_id == "a"


def test_no_rule_firing_allows() -> None:
    assert RuleEngine([fixed("quiet", None, [])]).check("x", PUBLIC_OUT) == ALLOW
    assert RuleEngine([]).check("x", PUBLIC_OUT) is ALLOW
    assert not ALLOW.stops and ALLOW.allowed


def test_stopping_actions_are_exactly_the_not_allowed_ones() -> None:
    stopping = {a for a in Action if Verdict(a).stops}
    assert stopping == {Action.MOVE_TO_DM, Action.BLOCK, Action.ESCALATE}
    assert {a for a in Action if not Verdict(a).allowed} == stopping


def test_transforming_rules_run_after_content_rules_and_only_if_nothing_stops() -> None:
    def append_sig(text: str, ctx: CheckContext) -> Detection | None:
        return Detection(replacement=(text + " ^JD",))

    append = Rule(RuleSpec(id="sig", detect={"detector": "x"}, action=Action.APPEND,
                           message="signed"), append_sig)
    warn = fixed("careful", Action.WARN, [])
    verdict = RuleEngine([append, warn]).check("Hello", PUBLIC_OUT)
    assert verdict.allowed and verdict.parts == ("Hello ^JD",)
    assert [w.rule_id for w in verdict.warnings] == ["careful"]
    blocked = RuleEngine([append, fixed("no", Action.BLOCK, [])]).check("Hello", PUBLIC_OUT)
    assert not blocked.allowed and blocked.parts == ()


# -- loading packs ------------------------------------------------------------------------------


def test_load_engine_with_the_privacy_pack() -> None:
    engine = load_engine({"privacy": {}})
    verdict = engine.check("What is your order number?", PUBLIC_OUT)
    assert verdict.action is Action.MOVE_TO_DM and verdict.rule_id == RULE_ID
    assert engine.check("What is your order number?", PRIVATE_OUT).allowed
    assert engine.check("Turn it off and on again.", PUBLIC_OUT).action is Action.ALLOW


def test_no_packs_allow_everything() -> None:
    assert load_engine({}).check("What is your order number?", PUBLIC_OUT) is ALLOW


def test_an_unknown_pack_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no-such-pack") as info:
        load_engine({"privacy": {}, "no-such-pack": {}})
    assert "privacy" in str(info.value)  # and it lists the known ones
    with pytest.raises(PolicyError, match="no-such-pack"):
        build_engine({"no-such-pack": {}})


def test_an_unknown_pack_parameter_is_an_error_naming_pack_and_parameter() -> None:
    with pytest.raises(PolicyError, match="privacy") as info:
        load_engine({"privacy": {"sugestion": "typo"}})
    assert "sugestion" in str(info.value)
    assert info.value.loc == ("packs", "privacy", "sugestion")


def test_a_pack_rule_can_be_disabled() -> None:
    engine = load_engine({"privacy": {"disable": [RULE_ID]}})
    assert RULE_ID not in [r.id for r in engine.rules]
    with pytest.raises(PolicyError, match="no rule 'privacy.nope'"):
        load_engine({"privacy": {"disable": ["privacy.nope"]}})


def test_the_example_config_loads_every_pack_it_names(example_config: object) -> None:
    from helpforce.config import Config

    assert isinstance(example_config, Config)
    engine = load_engine(example_config.policies.packs, example_config.policies.rules)
    assert set(example_config.policies.packs) <= set(available_packs())
    assert engine.check("What is your order number?", PUBLIC_OUT).action is Action.MOVE_TO_DM


# -- asks an earlier, minimal rule let through ---------------------------------------------------


@pytest.mark.parametrize(
    "text", ["What\u2019s your order number?", "what\u2019s your e-mail address?"]
)
def test_a_typographic_apostrophe_is_still_an_ask(rule: AskRule, text: str) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.parametrize("invisible", ["\u00ad", "\u200e", "\u200f", "\u2062"])
def test_other_invisible_characters_do_not_hide_an_ask(rule: AskRule, invisible: str) -> None:
    text = f"What is your or{invisible}der num{invisible}ber?"
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.parametrize(
    "text",
    [
        "What is your order number? We'll DM you once it ships.",
        "Please post your e-mail address here so we can update the form.",
    ],
)
def test_a_nearby_private_word_does_not_excuse_a_public_ask(rule: AskRule, text: str) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.parametrize(
    "text",
    [
        "Let us know your order number and we'll check.",
        "Your order number, please?",
        "Mind sharing your e-mail address?",
    ],
)
def test_common_asks_without_a_leading_ask_word(rule: AskRule, text: str) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.parametrize("factory, value", [
    ("phrases", ["\u200b"]), ("phrases", ["  "]), ("disclosure", ["#acmehelp", "\u200b"]),
])
def test_a_phrase_or_tag_that_normalises_to_nothing_is_refused(
    factory: str, value: list[str]
) -> None:
    # an empty phrase matches every reply (blocking them all); an empty tag is in every
    # reply (the disclosure rule would never fire)
    from helpforce.policies import detectors

    with pytest.raises(ValueError):
        getattr(detectors, factory)(value)
