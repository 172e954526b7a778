"""Platform limits: X's weighted length (twitter-text config v3), Telegram's UTF-16 units,
Discord's code points, and splitting a too-long reply into a signed, numbered thread."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest

from helpforce.policies.length import LIMITS, fits, split, weighted_length

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
FLAG_JP = "\U0001f1ef\U0001f1f5"
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"
KEYCAP_1 = "1\ufe0f\u20e3"
GRIN = "\U0001f600"
NI = "\u65e5"  # a CJK ideograph
URL_100 = "https://example.com/" + "a" * 80
assert len(URL_100) == 100

# -- X weighting -----------------------------------------------------------------------------

X_WEIGHTS = [
    # plain text: ASCII and Latin weigh 1, CJK 2
    ("a" * 280, 280),
    ("a" * 281, 281),
    (NI * 140, 280),
    (NI * 141, 282),
    ("caf\u00e9 \u00fcber \u0436\u0443\u043a", 13),
    ("e\u0301", 1),  # NFC first: e + combining acute is one code point, é
    ("\U00020000", 2),  # CJK outside the BMP: one code point, weight 2
    ("\u3000", 2),  # ideographic space
    # the light ranges' edges
    ("\u10ff", 1),
    ("\u1100", 2),
    ("\u2000\u200d", 2),
    ("\u200e", 2),
    ("\u2010\u201f", 2),
    ("\u2020", 2),
    ("\u2032\u2037", 2),
    ("\u2038", 2),
    # emoji: a sequence weighs 2 in total
    (GRIN, 2),
    (FAMILY, 2),
    (RAINBOW_FLAG, 2),
    (ENGLAND, 2),
    (FLAG_JP, 2),
    (THUMBS_MEDIUM, 2),
    (KEYCAP_1, 2),
    ("\u2764\ufe0f", 2),
    (f"hi {FAMILY}{FAMILY}", 7),
    (FAMILY * 140, 280),
    (FAMILY * 141, 282),
    # URLs weigh 23 whatever their length
    (URL_100, 23),
    ("see " + URL_100, 27),
    ("http://test.com", 23),
    ("test.com", 23),
    ("example.com/path/to/page?x=1&y=2#top", 23),
    ("HTTPS://www.ExaMPLE.COM/index.html", 23),
    ("Test https://test.com test https://test.com test.com test", 86),
    ("https://example.com/" + "p" * 3000, 23),
    ("https://example.com/path.", 24),  # the full stop is not part of the URL
    ("(https://en.wikipedia.org/wiki/Primer_(film))", 25),
    ("http://example.com/path" + "." * 40, 63),
    ("t.co/abcde bit.ly/abcde", 47),
    ("foo.co.jp www.foo.co.uk", 47),
    ("vine.co", 23),  # .co and .tv short domains are links
    ("bit.ly", 6),  # other two-label country domains need a path to be links
    ("it.so foo.jp", 12),
    ("foo.baz foo.comm", 16),
    ("node.js e.g. 3.14 U.S.A.", 24),
    ("john.doe.gov@mail.com", 21),  # an e-mail address is no URL
    ("#test.com @test.com $test.com", 29),
    ("http://no-tld http://twitter_underscore.com", 43),
    (NI * 3 + "example.com" + NI, 31),  # CJK around a bare domain
    ("http://example.com" + NI * 3, 29),  # ... and after a URL's domain
    ("http://foobar.\u307f\u3093\u306a/ ok", 26),  # an internationalised TLD
    ("https://example.com/" + "p" * 5000, 5020),  # over twitter-text's 4096: no URL
    ("a" * 5000 + ".com", 5004),  # a 5,000-letter label is no domain either
]


@pytest.mark.parametrize(("text", "weight"), X_WEIGHTS)
def test_x_weighted_length(text: str, weight: int) -> None:
    assert weighted_length(text, "x") == weight


@pytest.mark.parametrize(
    ("text", "fit"),
    [("a" * 280, True), ("a" * 281, False), (NI * 140, True), (NI * 141, False),
     (URL_100 + " " + "a" * 256, True), (URL_100 + " " + "a" * 257, False),
     (FAMILY * 140, True), (FAMILY * 141, False)],
)
def test_x_fits(text: str, fit: bool) -> None:
    assert fits(text, "x") is fit


OTHER_WEIGHTS = [
    # Telegram counts UTF-16 code units
    ("telegram", "abc", 3),
    ("telegram", NI, 1),
    ("telegram", GRIN, 2),
    ("telegram", FAMILY, 11),
    ("telegram", URL_100, 100),
    ("telegram", "\U00020000", 2),
    # Discord and the local platform count code points
    ("discord", GRIN, 1),
    ("discord", FAMILY, 7),
    ("discord", NI * 3, 3),
    ("discord", URL_100, 100),
    ("local", FAMILY, 7),
    ("local", "e\u0301", 2),  # no normalisation outside X
]


@pytest.mark.parametrize(("platform", "text", "weight"), OTHER_WEIGHTS)
def test_other_platforms_weighted_length(platform: str, text: str, weight: int) -> None:
    assert weighted_length(text, platform) == weight


@pytest.mark.parametrize(
    ("platform", "text", "fit"),
    [("discord", "a" * 2000, True), ("discord", "a" * 2001, False),
     ("discord", GRIN * 2000, True), ("telegram", "a" * 4096, True),
     ("telegram", "a" * 4097, False), ("telegram", GRIN * 2048, True),
     ("telegram", GRIN * 2049, False), ("local", "a" * 4096, True),
     ("local", "a" * 4097, False)],
)
def test_other_platforms_fit(platform: str, text: str, fit: bool) -> None:
    assert fits(text, platform) is fit


def test_limits_table() -> None:
    assert LIMITS == {"x": 280, "discord": 2000, "telegram": 4096, "local": 4096}


def test_explicit_limit_and_unknown_platform() -> None:
    assert fits("a" * 10, "x", limit=10)
    assert not fits("a" * 11, "x", limit=10)
    assert weighted_length(FAMILY, "mastodon") == 7  # code points
    assert fits("abc", "mastodon", limit=3)
    with pytest.raises(ValueError, match="limit"):
        fits("abc", "mastodon")


# -- splitting -------------------------------------------------------------------------------

PARAGRAPHS = (
    "Thanks for reaching out, and sorry about the delay with your order! Our warehouse had a "
    "backlog last week, but your parcel has now left and should arrive within 2-3 working "
    "days. You can follow it at https://track.example.com/parcel/ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "0123456789?lang=en.\n\nIf it hasn't arrived by Friday, reply here and we'll send a "
    "replacement straight away, no need to return anything. We've also added a voucher to "
    "your account for the trouble (see support.example.com/vouchers for the terms). Have a "
    "lovely week!"
)
CJK_SENTENCES = (
    "\u3054\u4e0d\u4fbf\u3092\u304a\u304b\u3051\u3057\u3066\u7533\u3057\u8a33\u3054\u3056"
    "\u3044\u307e\u305b\u3093\u3002"
) * 30  # 19 CJK code points a sentence, no spaces
EMOJI_TEXT = f"Great news {FAMILY} {FLAG_JP} {THUMBS_MEDIUM} {KEYCAP_1} {RAINBOW_FLAG} " * 40
URL_TEXT = " ".join(
    f"see https://help.example.com/articles/{i}/{'x' * (i % 50)} or support.example.org/t/{i}"
    for i in range(60)
)
WORDS_10K = " ".join(f"word{i % 97}" for i in range(1500))[:10_000].rsplit(" ", 1)[0]

CORPUS = {
    "paragraphs": PARAGRAPHS * 12,
    "cjk": CJK_SENTENCES * 10,
    "emoji": EMOJI_TEXT * 4,
    "urls": URL_TEXT * 3,
    "words_10k": WORDS_10K,
    "mixed": (PARAGRAPHS + "\n" + CJK_SENTENCES + " " + EMOJI_TEXT) * 4,
}
PLATFORMS = ["x", "discord", "telegram", "local"]


def _bodies(parts: list[str], signature: str = "", numbering: str = " ({i}/{n})") -> list[str]:
    """The text of each part without its numbering and signature (asserting they are there)."""
    n = len(parts)
    out = []
    for i, part in enumerate(parts, 1):
        suffix = numbering.format(i=i, n=n) + signature
        assert part.endswith(suffix), (i, part[-40:])
        out.append(part[: len(part) - len(suffix)])
    return out


def _no_space(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("signature", ["", " ^JD", "\n^AB12"])
def test_split_parts_fit_numbered_signed_and_reassemble(
    platform: str, name: str, signature: str
) -> None:
    text = CORPUS[name] * (3 if platform != "x" else 1) + signature
    limit = LIMITS[platform]
    assert not fits(text, platform)
    parts = split(text, platform)
    assert len(parts) > 1
    for part in parts:
        assert weighted_length(part, platform) <= limit, part[-60:]
    bodies = _bodies(parts, signature)
    for body in bodies:
        assert body and body == body.strip()
        assert not body.endswith(signature.strip() or "\0")  # the signature is not doubled
    original = text[: len(text) - len(signature)]
    # every word comes back, in order (CJK sentences may break without a space between)
    assert _no_space("".join(bodies)) == _no_space(original)
    if name in ("paragraphs", "urls", "words_10k", "emoji"):
        assert " ".join(bodies).split() == original.split()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_text_that_fits_comes_back_unchanged(platform: str) -> None:
    limit = LIMITS[platform]
    for text in ["Thanks! ^JD", "  odd   spacing\n\n kept  ^JD ", "a" * limit, URL_100]:
        assert split(text, platform) == [text]


def test_x_text_at_the_limit_is_not_numbered() -> None:
    text = "a" * 200 + " " + URL_100 + " " + "b" * 50 + " ^JD"  # 200+1+23+1+50+4 = 279
    assert weighted_length(text, "x") == 279
    assert split(text, "x") == [text]


def test_signature_ends_every_part_after_the_numbering() -> None:
    text = " ".join(["Your refund is on its way."] * 40) + " ^JD"
    parts = split(text, "x")
    n = len(parts)
    assert n >= 3
    for i, part in enumerate(parts, 1):
        assert part.endswith(f" ({i}/{n}) ^JD")
        assert part.count("^JD") == 1


def test_not_a_signature_is_left_in_the_text() -> None:
    text = " ".join(["Your refund is on its way."] * 20) + " ^TOOLONG"
    parts = split(text, "x")
    assert not parts[0].endswith("^TOOLONG")
    assert parts[-1].endswith(f"^TOOLONG ({len(parts)}/{len(parts)})")


def test_custom_numbering() -> None:
    parts = split(PARAGRAPHS * 3 + " ^JD", "x", numbering="\n{i}/{n}")
    n = len(parts)
    for i, part in enumerate(parts, 1):
        assert part.endswith(f"\n{i}/{n} ^JD")
        assert fits(part, "x")


@pytest.mark.parametrize("words", range(200, 330, 6))
def test_numbering_width_change_recomputes_n(words: int) -> None:
    # around 10 parts the numbering grows from " (9/9)" to " (10/10)": n must stay right
    text = " ".join(f"w{i % 10}" * 3 for i in range(words)) + " ^JD"
    parts = split(text, "x", limit=200)
    n = len(parts)
    for i, part in enumerate(parts, 1):
        assert part.endswith(f" ({i}/{n}) ^JD")
        assert weighted_length(part, "x") <= 200
    assert _no_space("".join(_bodies(parts, " ^JD"))) == _no_space(text[:-4])


def test_more_than_99_parts() -> None:
    parts = split(WORDS_10K * 3, "x", limit=120)
    n = len(parts)
    assert n >= 100
    assert parts[0].endswith(f" (1/{n})") and parts[-1].endswith(f" ({n}/{n})")
    assert all(weighted_length(p, "x") <= 120 for p in parts)


def test_breaks_at_paragraph_then_sentence_then_word() -> None:
    para1 = "First paragraph " + "x" * 150 + "."  # 167: over half of a part
    para2 = "Second one. " + "y " * 100
    parts = split(para1 + "\n\n" + para2, "x")
    assert _bodies(parts)[0] == para1
    sentences = " ".join(["This sentence has exactly forty-four chars."] * 8)
    bodies = _bodies(split(sentences, "x"))
    assert all(b.endswith(".") for b in bodies)
    words = " ".join(["lorem"] * 100)
    bodies = _bodies(split(words, "x"))
    assert all(set(b.split()) == {"lorem"} for b in bodies)


def test_short_paragraph_does_not_waste_a_part() -> None:
    # a paragraph break leaving a part under half full loses to a later sentence break
    text = "Hi there!\n\n" + " ".join(["The parcel left our warehouse today."] * 12)
    bodies = _bodies(split(text, "x"))
    assert bodies[0].startswith("Hi there!\n\nThe parcel")
    assert bodies[0].endswith(".")


def test_cjk_breaks_after_a_full_stop() -> None:
    parts = split(CJK_SENTENCES, "x")
    bodies = _bodies(parts)
    assert all(b.endswith("\u3002") for b in bodies)
    assert "".join(bodies) == CJK_SENTENCES


def test_no_split_inside_a_url() -> None:
    urls = [f"https://help.example.com/a/{i}/{'q' * (i * 7 % 120)}" for i in range(40)]
    bare = [f"support.example.org/t/{i}/faq" for i in range(40)]
    text = " ".join(f"Please see {u} and {b} for details." for u, b in zip(urls, bare, strict=True))
    for platform, limit in [("x", None), ("discord", 300), ("telegram", 250), ("local", 200)]:
        parts = split(text, platform, limit=limit)
        assert len(parts) > 2
        joined_words = " ".join(_bodies(parts)).split()
        for u in urls + bare:
            assert u in joined_words, (platform, u)


def test_no_split_inside_an_emoji_sequence() -> None:
    sequences = [FAMILY, RAINBOW_FLAG, ENGLAND, FLAG_JP, THUMBS_MEDIUM, KEYCAP_1]
    text = "".join(sequences) * 200  # no spaces at all: every part is a hard split
    whole = re.compile("(?:" + "|".join(map(re.escape, sequences)) + ")+")
    for platform, limit in [("x", None), ("discord", 100), ("telegram", 100)]:
        bodies = _bodies(split(text, platform, limit=limit))
        assert "".join(bodies) == text
        for body in bodies:  # every part holds whole sequences only
            assert whole.fullmatch(body), (platform, body[:20])


def test_a_word_longer_than_a_part_is_split_hard() -> None:
    text = "Reference: " + "Z" * 700 + " thanks"
    parts = split(text, "x")
    bodies = _bodies(parts)
    assert "".join(bodies).replace(" ", "") == text.replace(" ", "")
    assert bodies[0] == "Reference:"  # the long word starts a new part rather than mid-way
    assert all(fits(p, "x") for p in parts)


def test_a_url_longer_than_a_part_is_split_only_then() -> None:
    url = "https://example.com/" + "u" * 3000
    parts = split("Link: " + url, "discord")
    bodies = _bodies(parts)
    assert bodies[0] == "Link:"
    assert "".join(bodies[1:]) == url
    assert all(fits(p, "discord") for p in parts)
    # on X the same URL weighs 23 and is never cut
    assert split("Link: " + url, "x") == ["Link: " + url]


def test_only_whitespace_overflow_is_trimmed_not_numbered() -> None:
    text = "a" * 270 + " " * 30 + " ^JD"
    assert not fits(text, "x")
    assert split(text, "x") == ["a" * 270 + " ^JD"]


def test_limit_too_small_for_numbering_and_signature() -> None:
    with pytest.raises(ValueError):
        split("a" * 100 + " ^JD", "x", limit=8)


def test_x_split_normalises_to_nfc() -> None:
    text = ("Caf" + "e\u0301" + " ") * 100
    parts = split(text, "x")
    assert all(unicodedata.is_normalized("NFC", p) for p in parts)
    assert all(fits(p, "x") for p in parts)


# -- linear time -----------------------------------------------------------------------------

PATHOLOGICAL = {
    "no_spaces": "a" * 10_000,
    "dotted": "a." * 5_000,  # quadratic in twitter-text-parser: minutes
    "dotted_labels": "ab." * 3_333,
    "hyphens": "a-" * 5_000,
    "protocol_dots": "https://" + "a." * 5_000,
    "open_parens": "example.com/" + "(" * 10_000,
    "close_parens": "example.com/" + ")" * 5_000 + "." * 5_000,
    "cjk": NI * 10_000,
    "emoji": FAMILY * 1_430,
    "flags": FLAG_JP * 5_000,
    "urls": ("https://example.com/x " * 500)[:10_000],
    "domains": ("example.com " * 900)[:10_000],
    "mixed": ((PARAGRAPHS + CJK_SENTENCES + EMOJI_TEXT) * 5)[:10_000],
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_ten_thousand_characters_in_linear_time(name: str) -> None:
    text = PATHOLOGICAL[name]
    assert len(text) >= 9_000
    for platform in PLATFORMS:
        start = time.perf_counter()
        weighted_length(text, platform)
        count = time.perf_counter() - start
        start = time.perf_counter()
        parts = split(text, platform)
        took = time.perf_counter() - start
        # measured: < 10 ms to count, < 120 ms to split; a quadratic pass takes seconds
        assert count < 0.5, (platform, count)
        assert took < 3.0, (platform, took)
        assert all(fits(p, platform) for p in parts)
        assert _no_space("".join(_bodies(parts) if len(parts) > 1 else parts)) == _no_space(
            unicodedata.normalize("NFC", text) if platform == "x" else text
        )


@pytest.mark.parametrize(
    "numbering", [" ({i}/{n}) {x}", " {0} ({i}/{n})", " ({i}/{n}) {", " ({i}/{n})" + "." * 300]
)
def test_a_numbering_that_cannot_be_used_is_refused_when_the_rule_is_made(
    numbering: str,
) -> None:
    # at send time it would fail every answer that needs splitting
    from helpforce.policies.detectors import length as length_rule

    with pytest.raises(ValueError, match="numbering"):
        length_rule(numbering=numbering)
