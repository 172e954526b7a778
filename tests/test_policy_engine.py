"""The policy seam: the privacy rule, the rule engine's choice of verdict, and loading packs."""

from __future__ import annotations

import pytest

from helpforce.policies import PACKS, build_engine
from helpforce.policies.privacy import NoPrivateDataAskInPublic, normalise
from helpforce.policy import (
    ALLOW,
    Action,
    CheckContext,
    RuleEngine,
    Verdict,
    load_engine,
)

RULE_ID = "privacy.no-private-data-ask-in-public"

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


@pytest.fixture
def rule() -> NoPrivateDataAskInPublic:
    return NoPrivateDataAskInPublic()


@pytest.mark.parametrize("text", ASKS)
def test_public_asks_for_private_data_are_moved_to_dm(
    rule: NoPrivateDataAskInPublic, text: str
) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None, text
    assert verdict.action is Action.MOVE_TO_DM
    assert verdict.stops
    assert verdict.rule_id == RULE_ID
    assert "private" in verdict.message
    assert verdict.suggestion and "direct message" in verdict.suggestion


@pytest.mark.parametrize("text", ASKS)
def test_the_same_asks_in_private_are_fine(rule: NoPrivateDataAskInPublic, text: str) -> None:
    assert rule.check(text, PRIVATE_OUT) is None


@pytest.mark.parametrize("text", ASKS)
def test_texts_for_staff_and_customer_texts_are_not_checked(
    rule: NoPrivateDataAskInPublic, text: str
) -> None:
    assert rule.check(text, PUBLIC_TO_STAFF) is None
    assert rule.check(text, PUBLIC_IN) is None


@pytest.mark.parametrize("text", NOT_ASKS)
def test_texts_without_an_ask_pass(rule: NoPrivateDataAskInPublic, text: str) -> None:
    assert rule.check(text, PUBLIC_OUT) is None


@pytest.mark.parametrize("text", VIA_PRIVATE)
def test_asking_to_use_a_private_channel_is_fine_in_public(
    rule: NoPrivateDataAskInPublic, text: str
) -> None:
    assert rule.check(text, PUBLIC_OUT) is None


def test_a_private_channel_mention_elsewhere_does_not_excuse_an_ask(
    rule: NoPrivateDataAskInPublic,
) -> None:
    text = (
        "We got your direct message yesterday, thanks. "
        + "Meanwhile, could you post it here in the thread for everyone: "
        + "what is your order number?"
    )
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


def test_the_suggestion_is_a_pack_parameter() -> None:
    rule = NoPrivateDataAskInPublic(suggestion="Please DM us.")
    verdict = rule.check("What is your order number?", PUBLIC_OUT)
    assert verdict is not None and verdict.suggestion == "Please DM us."
    # and the default suggestion itself passes the rule
    default = NoPrivateDataAskInPublic().suggestion
    assert default is not None
    assert NoPrivateDataAskInPublic().check(default, PUBLIC_OUT) is None


def test_normalise_folds_fullwidth_and_drops_zero_width() -> None:
    assert normalise("\uff4f\uff52\u200b\uff44\uff45\uff52") == "order"
    assert normalise("a" * 10_000) == "a" * 4096


# -- the engine -------------------------------------------------------------------------------


class Fixed:
    def __init__(self, rule_id: str, action: Action | None) -> None:
        self.id = rule_id
        self.action = action
        self.seen: list[tuple[str, CheckContext]] = []

    def check(self, text: str, ctx: CheckContext) -> Verdict | None:
        self.seen.append((text, ctx))
        return None if self.action is None else Verdict(self.action, self.id, f"{self.id} says")


def test_the_engine_returns_the_most_restrictive_verdict() -> None:
    order = [Action.WARN, Action.APPEND, Action.REWRITE, Action.MOVE_TO_DM, Action.ESCALATE,
             Action.BLOCK]
    for i, strongest in enumerate(order):
        weaker = order[:i]
        rules = [Fixed(f"r{j}", a) for j, a in enumerate(weaker)]
        rules.insert(len(rules) // 2, Fixed("strongest", strongest))
        rules.append(Fixed("silent", None))
        verdict = RuleEngine(rules).check("text", PUBLIC_OUT)
        assert verdict.action is strongest
        assert verdict.rule_id == "strongest"
        # every rule saw the text and its context
        assert all(r.seen == [("text", PUBLIC_OUT)] for r in rules)


def test_the_first_of_equally_restrictive_verdicts_wins() -> None:
    engine = RuleEngine([Fixed("a", Action.BLOCK), Fixed("b", Action.BLOCK)])
    assert engine.check("x", PUBLIC_OUT).rule_id == "a"


def test_no_rule_firing_allows() -> None:
    assert RuleEngine([Fixed("quiet", None)]).check("x", PUBLIC_OUT) == ALLOW
    assert RuleEngine([]).check("x", PUBLIC_OUT) is ALLOW
    assert not ALLOW.stops


def test_stopping_actions() -> None:
    stopping = {a for a in Action if Verdict(a).stops}
    assert stopping == {Action.MOVE_TO_DM, Action.BLOCK, Action.ESCALATE}


def test_privacy_rule_and_a_blocking_rule_together() -> None:
    engine = RuleEngine([NoPrivateDataAskInPublic(), Fixed("other", Action.WARN)])
    assert engine.check("What is your order number?", PUBLIC_OUT).rule_id == RULE_ID
    assert engine.check("Fine text", PUBLIC_OUT).action is Action.WARN
    blocking = RuleEngine([NoPrivateDataAskInPublic(), Fixed("block", Action.BLOCK)])
    assert blocking.check("What is your order number?", PUBLIC_OUT).rule_id == "block"


# -- loading packs ------------------------------------------------------------------------------


def test_load_engine_with_the_privacy_pack() -> None:
    engine = load_engine({"privacy": {}})
    verdict = engine.check("What is your order number?", PUBLIC_OUT)
    assert verdict.action is Action.MOVE_TO_DM and verdict.rule_id == RULE_ID
    assert engine.check("What is your order number?", PRIVATE_OUT) is ALLOW
    assert engine.check("Turn it off and on again.", PUBLIC_OUT).action is Action.ALLOW


def test_load_engine_passes_pack_parameters() -> None:
    engine = load_engine({"privacy": {"suggestion": "DM us please."}})
    verdict = engine.check("What is your e-mail?", PUBLIC_OUT)
    assert verdict.suggestion == "DM us please."


def test_no_packs_allow_everything() -> None:
    engine = load_engine({})
    assert engine.check("What is your order number?", PUBLIC_OUT) is ALLOW


def test_an_unknown_pack_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no-such-pack") as info:
        load_engine({"privacy": {}, "no-such-pack": {}})
    assert "privacy" in str(info.value)  # and it lists the known ones
    with pytest.raises(ValueError, match="no-such-pack"):
        build_engine({"no-such-pack": {}})


def test_an_unknown_pack_parameter_is_an_error_naming_pack_and_parameter() -> None:
    with pytest.raises(ValueError, match="privacy") as info:
        load_engine({"privacy": {"sugestion": "typo"}})
    assert "sugestion" in str(info.value)


def test_the_example_config_packs_load(example_config: object) -> None:
    from helpforce.config import Config

    assert isinstance(example_config, Config)
    engine = load_engine(example_config.policies.packs)
    assert set(example_config.policies.packs) <= set(PACKS)
    assert engine.check("What is your order number?", PUBLIC_OUT).action is Action.MOVE_TO_DM


# -- asks the minimal rule lets through (bug reports) -------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="BUG: privacy._ASK only knows the ASCII apostrophe in what's; normalise() (NFKC) "
    "keeps U+2019, so the typographic What’s (phone keyboards' default) is never an ask",
)
@pytest.mark.parametrize(
    "text", ["What\u2019s your order number?", "what\u2019s your e-mail address?"]
)
def test_a_typographic_apostrophe_is_still_an_ask(
    rule: NoPrivateDataAskInPublic, text: str
) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.xfail(
    strict=True,
    reason="BUG: privacy._ZERO_WIDTH strips only U+200B/C/D, U+2060 and U+FEFF; other "
    "invisible format characters (soft hyphen U+00AD, LRM/RLM U+200E/F, invisible times "
    "U+2062) survive normalise() and split the words the rule looks for",
)
@pytest.mark.parametrize("invisible", ["\u00ad", "\u200e", "\u200f", "\u2062"])
def test_other_invisible_characters_do_not_hide_an_ask(
    rule: NoPrivateDataAskInPublic, invisible: str
) -> None:
    text = f"What is your or{invisible}der num{invisible}ber?"
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.xfail(
    strict=True,
    reason="BUG: NoPrivateDataAskInPublic.check excuses an ask when a private-channel word "
    "(DM, form…) appears within 40 characters of it, even in another sentence that does "
    "not ask for the data privately",
)
@pytest.mark.parametrize(
    "text",
    [
        "What is your order number? We'll DM you once it ships.",
        "Please post your e-mail address here so we can update the form.",
    ],
)
def test_a_nearby_private_word_does_not_excuse_a_public_ask(
    rule: NoPrivateDataAskInPublic, text: str
) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM


@pytest.mark.xfail(
    strict=True,
    reason="BUG: privacy._ASK needs one of its ask words (what's, can, please, send...) "
    "before 'your'; common asks phrased otherwise are not recognised",
)
@pytest.mark.parametrize(
    "text",
    [
        "Let us know your order number and we'll check.",
        "Your order number, please?",
        "Mind sharing your e-mail address?",
    ],
)
def test_common_asks_without_a_leading_ask_word(
    rule: NoPrivateDataAskInPublic, text: str
) -> None:
    verdict = rule.check(text, PUBLIC_OUT)
    assert verdict is not None and verdict.action is Action.MOVE_TO_DM
