"""Platform message limits: how long a text is where it goes, and how to split one that is too
long into a numbered thread that keeps the staff signature on every part.

How each platform counts (``weighted_length``):

* ``x`` — X's weighted length, following the published twitter-text configuration v3
  (``config/v3.json``: scale 100, default weight 200, emoji parsing on, URLs 23): the text is
  NFC-normalised first; a code point in U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F or
  U+2032–U+2037 weighs 1, any other code point 2; an emoji sequence (ZWJ sequence, flag,
  keycap, skin tone, tag sequence, emoji + VS16) weighs 2 in total; every URL weighs 23
  whatever its length — ``http(s)://`` URLs and bare domains such as ``example.com/path``
  with a known TLD (all country TLDs, the common generic ones). As in twitter-text, a bare
  two-label domain on a country TLD other than .co/.tv (``bit.ly``, ``foo.de``) is a URL
  only with a path, and a URL over 4096 characters is none.
* ``telegram`` — UTF-16 code units: the Bot API's 4096 limit and its entity offsets are in
  UTF-16, so a character outside the BMP (most emoji) counts 2.
* ``discord`` — Unicode code points (``len()``), Discord's 2000 characters.
* ``local`` (and any other platform) — Unicode code points.

Not the ``twitter-text-parser`` package: its URL regex is quadratic (4,000 characters of
``a.a.a.`` take over a minute, 10,000 over five minutes) and it has had no release since
2023. The counting here is linear: every regex is anchored so that a failed attempt costs
O(1) per position, and runs are examined once.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate

LIMITS: dict[str, int] = {"x": 280, "discord": 2000, "telegram": 4096, "local": 4096}

#: what X counts for every URL, however long (twitter-text ``transformedURLLength``)
X_URL_WEIGHT = 23
#: what X counts for an emoji sequence (twitter-text ``defaultWeight`` / ``scale``)
X_EMOJI_WEIGHT = 2

#: a staff signature: the final token, e.g. " ^JD"
SIGNATURE = re.compile(r"\s\^[A-Za-z0-9]{1,4}\Z")

# -- X: code point weights -------------------------------------------------------------------

_LIGHT = r"\x00-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037"
_HEAVY_RUN = re.compile(f"[^{_LIGHT}]+")
_LIGHT_CHAR = re.compile(f"[{_LIGHT}]")


def _x_plain(s: str) -> int:
    """Weight of ``s`` counting code points only (no URL or emoji rules)."""
    if s.isascii():
        return len(s)
    return len(s) + sum(map(len, _HEAVY_RUN.findall(s)))


# -- emoji sequences -------------------------------------------------------------------------

# Extended_Pictographic (Unicode emoji data; it reserves the unassigned emoji blocks too, so
# new emoji are covered before they exist). Only multi-code-point sequences change a weight:
# a single pictograph already weighs what its code point weighs.
_EXTENDED_PICTOGRAPHIC = (
    "00A9 00AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 23CF 23E9-23F3 23F8-23FA "
    "24C2 25AA-25AB 25B6 25C0 25FB-25FE 2600-2604 260E 2611 2614-2615 2618 261D 2620 2622-2623 "
    "2626 262A 262E-262F 2638-263A 2640 2642 2648-2653 265F-2660 2663 2665-2666 2668 267B "
    "267E-267F 2692-2697 2699 269B-269C 26A0-26A1 26A7 26AA-26AB 26B0-26B1 26BD-26BE "
    "26C4-26C5 26C8 26CE-26CF 26D1 26D3-26D4 26E9-26EA 26F0-26F5 26F7-26FA 26FD 2702 2705 "
    "2708-270D 270F 2712 2714 2716 271D 2721 2728 2733-2734 2744 2747 274C 274E 2753-2755 "
    "2757 2763-2764 2795-2797 27A1 27B0 27BF 2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 "
    "303D 3297 3299 1F004 1F02C-1F02F 1F094-1F09F 1F0AF-1F0B0 1F0C0 1F0CF-1F0D0 1F0F6-1F0FF "
    "1F170-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AF-1F1E5 1F201-1F20F 1F21A 1F22F "
    "1F232-1F23A 1F23C-1F23F 1F249-1F25F 1F266-1F321 1F324-1F393 1F396-1F397 1F399-1F39B "
    "1F39E-1F3F0 1F3F3-1F3F5 1F3F7-1F3FA 1F400-1F4FD 1F4FF-1F53D 1F549-1F54E 1F550-1F567 "
    "1F56F-1F570 1F573-1F57A 1F587 1F58A-1F58D 1F590 1F595-1F596 1F5A4-1F5A5 1F5A8 "
    "1F5B1-1F5B2 1F5BC 1F5C2-1F5C4 1F5D1-1F5D3 1F5DC-1F5DE 1F5E1 1F5E3 1F5E8 1F5EF 1F5F3 "
    "1F5FA-1F64F 1F680-1F6C5 1F6CB-1F6D2 1F6D5-1F6E5 1F6E9 1F6EB-1F6F0 1F6F3-1F6FF "
    "1F7DC-1F7F0 1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8AF 1F8BC-1F8BF "
    "1F8C2-1F8CF 1F8D9-1F8FF 1F90C-1F93A 1F93C-1F945 1F947-1F9FF 1FA58-1FA5F 1FA6E-1FAFF "
    "1FC00-1FFFD"
)


def _char_class(ranges: str) -> str:
    out = []
    for item in ranges.split():
        lo, _, hi = item.partition("-")
        out.append(f"\\U{int(lo, 16):08x}" + (f"-\\U{int(hi, 16):08x}" if hi else ""))
    return "[" + "".join(out) + "]"


_EP = _char_class(_EXTENDED_PICTOGRAPHIC)
_RI = "[\\U0001f1e6-\\U0001f1ff]"
_MODIFIER = "[\\U0001f3fb-\\U0001f3ff]"
_ELEMENT = f"{_EP}(?:\\ufe0f|{_MODIFIER})?(?:[\\U000e0020-\\U000e007e]+\\U000e007f)?"
#: one emoji as people see it; every branch is deterministic, so matching is linear
_EMOJI = re.compile(
    f"{_RI}{_RI}"  # flag
    "|[#*0-9]\\ufe0f?\\u20e3"  # keycap
    f"|{_ELEMENT}(?:\\u200d{_ELEMENT})*"  # pictograph, + VS16 / skin tone / tags, ZWJ chain
)

# what every emoji sequence of two or more code points holds (flags: regional indicators)
_EMOJI_JOINER = re.compile(
    f"[\\u200d\\ufe0f\\u20e3{_RI[1:-1]}{_MODIFIER[1:-1]}\\U000e0020-\\U000e007f]"
)

# -- URLs ------------------------------------------------------------------------------------

# twitter-text's country TLDs (ASCII ones; the IANA root zone) ...
_CCTLDS = frozenset(
    "ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn "
    "bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj "
    "dk dm do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp "
    "gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh "
    "ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn "
    "mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph "
    "pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr "
    "ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tp tr tt tv tw tz ua ug uk um us uy "
    "uz va vc ve vg vi vn vu wf ws ye yt za zm zw".split()
)
# ... and the common generic ones (X knows ~1,200; these are the ones customers meet)
_GTLDS = frozenset(
    "com net org info biz edu gov mil int name pro aero asia cat coop jobs mobi museum tel "
    "travel xxx post app dev page blog shop store online site website wiki xyz top club tech "
    "help support email link live life news today world space fun cloud digital media network "
    "systems solutions services company agency group global center design studio art photo "
    "photography video music games game social chat team tools zone guru expert community "
    "foundation academy school education university college health care clinic doctor dental "
    "fitness fashion style clothing shoes jewelry beauty hair food restaurant cafe coffee pizza "
    "bar pub wine beer tours flights hotel holiday vacations cars car auto bike taxi delivery "
    "express direct market markets trade finance financial money bank insurance loans credit "
    "capital fund investments tax law legal lawyer realty properties house homes land city town "
    "london berlin paris nyc tokyo amsterdam google amazon apple microsoft youtube android play "
    "one plus works work marketing software technology computer host hosting download stream "
    "watch radio film movie events tickets sale deals discount coupons gift gifts cards codes "
    "promo black blue red pink green gold best cool wtf lol fyi ninja rocks love family kids "
    "baby pet pets dog vet farm garden energy solar eco earth bio science engineering build "
    "construction repair cleaning plumbing consulting management partners ventures holdings "
    "enterprises industries international inc llc ltd limited mba study courses training "
    "degree phd careers career recipes kitchen menu bet casino poker fan fans football soccer "
    "golf tennis run yoga surf ski boutique luxury watches rent rentals apartments condos "
    "property mortgage accountant accountants claims reviews review report press ink new now "
    "how zip mov foo here map search phone mobile africa barcelona madrid vegas miami boston "
    "quebec scot wales cymru bzh eus gal swiss koeln hamburg wien brussels bayern istanbul "
    "dubai sydney melbourne osaka nagoya okinawa kyoto yokohama".split()
)

# A URL starts with a protocol, or is a bare run of domain characters containing a dot.
# The look-behinds keep a match from starting inside a run, and the possessive runs (none
# of them can match the '.' that follows) keep a failed attempt from backtracking through
# its run, so each run is scanned once.
_ACCENTED = "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_URL_START = re.compile(
    r"(?<![A-Za-z0-9@\uff20$#\uff03])([Hh][Tt][Tt][Pp][Ss]?://)([\w.\-]+)"
    f"|(?<![A-Za-z0-9{_ACCENTED}@\uff20$#\uff03_./\\-])"
    f"([A-Za-z0-9{_ACCENTED}][A-Za-z0-9{_ACCENTED}_\\-]*+(?:\\.[A-Za-z0-9{_ACCENTED}_\\-]++)+)"
)
# the valid ASCII labels at the start of a host, each followed by a dot or the end
_ASCII_LABELS = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9_\-]*[A-Za-z0-9])?(?:\.|\Z))*")
_LABEL = re.compile(r"[^\W_](?:[\w\-]*[^\W_])?")
_ASCII_HEAD = re.compile(r"[A-Za-z0-9]+(?![A-Za-z0-9\-])")
_PORT = re.compile(r":[0-9]+")
_URL_LETTERS = f"A-Za-z0-9{_ACCENTED}\u0400-\u04ff"
_PATH = re.compile(f"[{_URL_LETTERS}!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&()?]*")
_PATH_END = re.compile(f"[{_URL_LETTERS}=_#/+\\-&]")
_TCO_PATH = re.compile(r"/[A-Za-z0-9]{1,40}(?![A-Za-z0-9])")
#: twitter-text: a URL longer than this (with the protocol) is no URL
_MAX_URL_LENGTH = 4096
#: two-label domains on these country TLDs are URLs even without a path (vine.co, mlb.tv)
_SPECIAL_CCTLDS = frozenset({"co", "tv"})
_TLDS = _GTLDS | _CCTLDS
_SHORT_DOMAIN_CCTLDS = _CCTLDS - _SPECIAL_CCTLDS


def _is_tld(label: str, ascii_only: bool) -> bool:
    low = label.lower()
    if low in _GTLDS or low in _CCTLDS:
        return True
    if low.startswith("xn--") and len(low) > 4:
        return True
    # an internationalised TLD (みんな, 中国): letters, none of them ASCII
    return not ascii_only and label.isalpha() and not any(c.isascii() for c in label)


def _domain_length(host: str, after: str, ascii_only: bool) -> tuple[int, int]:
    """Length of the longest domain at the start of ``host`` and its number of labels.

    ``after`` is the character following ``host``: a TLD followed by '@' or '+' is part of
    something else (john.doe.gov@mail.com).
    """
    if host.isascii():
        return _ascii_domain_length(host, after)
    labels = host.split(".")
    best = count = 0
    offset = 0
    for index, label in enumerate(labels):
        if not _LABEL.fullmatch(label) or (label.isascii() and len(label) > 63):
            break
        end = offset + len(label)
        if index >= 1 and "_" not in labels[index - 1]:  # no underscore before the TLD
            if _is_tld(label, ascii_only) and not (end == len(host) and after and after in "@+"):
                best, count = end, index + 1
            elif not label.isascii():
                # "example.comこれ": the TLD ends where the script changes
                head = _ASCII_HEAD.match(label)
                if head and _is_tld(head.group(), True):
                    return offset + head.end(), index + 1
        offset = end + 1
    return best, count


def _ascii_domain_length(host: str, after: str) -> tuple[int, int]:
    """``_domain_length`` for a plain ASCII host, in a few passes of C code (a 4,096-character
    "a.a.a.…" must not cost one regex call per label)."""
    valid = _ASCII_LABELS.match(host).end()  # type: ignore[union-attr]  # '*' always matches
    labels = host[:valid].split(".")
    if labels[-1] == "":
        labels.pop()  # the valid labels end with a dot
    if len(labels) < 2:
        return 0, 0
    if max(map(len, labels)) > 63:
        labels = labels[: next(i for i, label in enumerate(labels) if len(label) > 63)]
        if len(labels) < 2:
            return 0, 0
    low = host[:valid].lower().split(".")
    if _TLDS.isdisjoint(low[1:]) and "xn--" not in host[:valid].lower():
        return 0, 0
    # the longest domain ends at the last label that is a TLD (not after an underscore)
    end = sum(map(len, labels)) + len(labels) - 1
    for index in range(len(labels) - 1, 0, -1):
        label = low[index]
        if (
            (label in _TLDS or (label.startswith("xn--") and len(label) > 4))
            and "_" not in labels[index - 1]
            and not (end == len(host) and after and after in "@+")
        ):
            return end, index + 1
        end -= len(label) + 1
    return 0, 0


# a dot with a letter or digit on both sides (the pattern starts with the literal '.', so
# the regex engine finds candidates with a fast scan)
_DOMAIN_DOT = re.compile(r"\.(?<=[^\W_]\.)(?=[^\W_])")


def _next_domain_dot(t: str, pos: int) -> int:
    """The first '.' at or after ``pos`` with a letter or digit on both sides, or -1."""
    m = _DOMAIN_DOT.search(t, pos)
    return -1 if m is None else m.start()


def _url_spans(t: str) -> list[tuple[int, int]]:
    """Spans of the URLs X would count as 23, in order, not overlapping."""
    if "." not in t:
        return []
    spans: list[tuple[int, int]] = []
    pos = 0
    n = len(t)
    while True:
        # every URL holds a dot between two letters or digits (before its TLD), and no
        # whitespace: start the (costly) search at the token holding the next such dot
        dot = _next_domain_dot(t, pos)
        if dot < 0:
            break
        pos = max(pos, t.rfind(" ", pos, dot) + 1, t.rfind("\n", pos, dot) + 1)
        m = _URL_START.search(t, pos)
        if m is None:
            break
        protocol = m.group(1) is not None
        group = 2 if protocol else 3
        host_start, host_end = m.span(group)
        after = t[host_end] if host_end < n else ""
        length, labels = _domain_length(m.group(group), after, ascii_only=not protocol)
        if not length:
            pos = m.end()
            continue
        end = host_start + length
        domain = t[host_start:end].lower()
        port = _PORT.match(t, end)
        if port:
            end = port.end()
        has_path = end < n and t[end] == "/"
        if domain == "t.co" and has_path:  # t.co slugs are plain letters and digits
            tco = _TCO_PATH.match(t, end)
            end = tco.end() if tco else end + 1
        elif end < n and t[end] in "/?":
            end = _url_path_end(t, end)
        if (
            not protocol
            and not has_path
            and labels == 2
            and domain.rsplit(".", 1)[1] in _SHORT_DOMAIN_CCTLDS
        ):
            # twitter-text: a bare short domain on a country TLD is no URL without a path
            pos = m.end()
            continue
        if (0 if protocol else len("https://")) + end - m.start() > _MAX_URL_LENGTH:
            pos = m.end()
            continue
        spans.append((m.start(), end))
        pos = max(end, m.end())
    return spans


def _url_path_end(t: str, start: int) -> int:
    """End of the path/query starting at ``start`` ('/' or '?'), trailing punctuation off."""
    end = _PATH.match(t, start).end()  # type: ignore[union-attr]  # '*' always matches
    opens = t.count("(", start, end)
    closes = t.count(")", start, end)
    while end > start + 1:
        c = t[end - 1]
        if c == ")":
            if closes <= opens:
                break
            closes -= 1
        elif _PATH_END.match(c):
            break
        elif c == "(":
            opens -= 1
        end -= 1
    if end == start + 1 and t[start] == "?":
        return start  # a lone '?' is punctuation, not a query
    return end


# -- counting --------------------------------------------------------------------------------


def _nfc(text: str) -> str:
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def _may_hold_emoji_sequence(t: str) -> bool:
    """Can ``t`` hold an emoji sequence of two or more code points? Each holds a regional
    indicator, a skin tone, a tag, VS16, ZWJ or the keycap mark (see ``_EMOJI``)."""
    return _EMOJI_JOINER.search(t) is not None


def _special_spans(t: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_url) of URLs and multi-code-point emoji in ``t``, in order.

    As in twitter-text, a URL wins: an emoji sequence that starts inside a URL is ignored.
    """
    urls = _url_spans(t)
    out = [(s, e, True) for s, e in urls]
    if t.isascii() or not _may_hold_emoji_sequence(t):
        return out
    emoji: list[tuple[int, int, bool]] = []
    u = 0
    for m in _EMOJI.finditer(t):
        s, e = m.span()
        if e - s < 2:
            continue
        while u < len(urls) and urls[u][1] <= s:
            u += 1
        if u < len(urls) and urls[u][0] <= s:
            continue
        emoji.append((s, e, False))
    if not emoji:
        return out
    return sorted(out + emoji)


def _x_length(text: str) -> int:
    t = _nfc(text)
    if t.isascii():  # no emoji, every character weighs 1
        if _DOMAIN_DOT.search(t) is None:
            return len(t)  # no URL either
        total = len(t)
        for s, e in _url_spans(t):
            total += X_URL_WEIGHT - (e - s)
        return total
    total = _x_plain(t)
    for s, e, is_url in _special_spans(t):
        total += (X_URL_WEIGHT if is_url else X_EMOJI_WEIGHT) - _x_plain(t[s:e])
    return total


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def weighted_length(text: str, platform: str) -> int:
    """The length of ``text`` as ``platform`` counts it against its limit (see the module
    docstring: X weighted, Telegram UTF-16 code units, Discord/local code points)."""
    p = platform.lower()
    if p == "x":
        return _x_length(text)
    if p == "telegram":
        return _utf16_length(text)
    return len(text)


def _limit(platform: str, limit: int | None) -> int:
    if limit is not None:
        return limit
    try:
        return LIMITS[platform.lower()]
    except KeyError:
        raise ValueError(
            f"no known limit for platform {platform!r} (known: {', '.join(LIMITS)}); "
            "pass limit="
        ) from None


def fits(text: str, platform: str, limit: int | None = None) -> bool:
    """True if ``text`` can go out on ``platform`` as one message."""
    return weighted_length(text, platform) <= _limit(platform, limit)


# -- splitting -------------------------------------------------------------------------------

# break levels, best first
_PARAGRAPH, _LINE, _SENTENCE, _WORD = range(4)
#: a break better than a word break is taken only if the part is at least this full
MIN_FILL = 0.5

_ENDERS = frozenset(".!?\u2026\u203c\u2049\u3002\uff01\uff1f\uff61")
_CJK_ENDERS = frozenset("\u3002\uff01\uff1f\uff61")
_CLOSERS = frozenset(")]}\"'\u2019\u201d\u00bb\u300d\u300f\uff09\u3011\u3015")
_EXTENDERS = frozenset("\u200c\u200d\ufe0e\ufe0f")
_CJK_BREAK_CANDIDATE = re.compile(
    "[" + re.escape("".join(sorted(_CJK_ENDERS | _CLOSERS))) + "]"
)
_SPACE_RUN = re.compile(rb"\x01+")
#: str.isspace() for each ASCII character, as bytes (1: whitespace)
_ASCII_SPACE = bytes(int(chr(c).isspace()) for c in range(128)) + bytes(128)


def _is_extender(c: str) -> bool:
    """Does ``c`` belong to the character before it (combining mark, joiner, selector)?"""
    if c < "\u0300":
        return False
    o = ord(c)
    return (
        c in _EXTENDERS
        or 0x1F3FB <= o <= 0x1F3FF
        or 0xE0020 <= o <= 0xE007F
        or unicodedata.category(c)[0] == "M"
    )


def _cp_weigher(platform: str) -> Callable[[str], int]:
    if platform == "x":
        return lambda c: 1 if _LIGHT_CHAR.match(c) else 2
    if platform == "telegram":
        return lambda c: 2 if c > "\uffff" else 1
    return lambda c: 1


class _Atoms:
    """The text cut into pieces that are never split — a character with its combining marks,
    an emoji sequence, a URL, each whitespace character alone — with their weights (as
    prefix sums) and the break opportunities between them. Built in one pass: O(n)."""

    def __init__(self, t: str, platform: str, max_weight: int) -> None:
        cp = _cp_weigher(platform)
        # URLs and emoji stay whole; on X they weigh 23 and 2, elsewhere what they are
        specials: dict[int, tuple[int, int]] = {}
        for s, e, is_url in _special_spans(t):
            if platform == "x":
                w = X_URL_WEIGHT if is_url else X_EMOJI_WEIGHT
            else:
                w = sum(map(cp, t[s:e]))
            if w <= max_weight:  # one longer than a part is split like a long word
                specials[s] = (e, w)
        starts: list[int] = []
        weights: list[int] = []
        space = bytearray()  # 1: a whitespace atom
        n = len(t)
        stops = sorted(specials)
        stops.append(n)
        k = 0
        i = 0
        while i < n:
            special = specials.get(i)
            if special is not None:
                end, w = special
                starts.append(i)
                weights.append(w)
                space.append(False)
                i = end
                continue
            while stops[k] < i:  # the next special start (those inside a special are passed)
                k += 1
            stop = stops[k]
            seg = t[i:stop]
            if seg.isascii():
                # plain ASCII: each character is an atom weighing 1 on every platform
                starts.extend(range(i, stop))
                weights.extend([1] * (stop - i))
                space.extend(seg.encode().translate(_ASCII_SPACE))
                i = stop
                continue
            chars = set(seg)
            if t[stop - 1 : stop] != "\u200d" and not any(
                c == "\u200d" or _is_extender(c) for c in chars
            ):
                # nothing joins characters here: each is an atom (looked at once per
                # distinct character, so a long run of one character costs little)
                weight = {c: cp(c) for c in chars}
                starts.extend(range(i, stop))
                if all(w == 1 for w in weight.values()):
                    weights.extend([1] * (stop - i))
                else:
                    weights.extend([weight[c] for c in seg])
                if any(c.isspace() for c in chars):
                    space.extend([c.isspace() for c in seg])
                else:
                    space.extend(bytes(stop - i))
                i = stop
                continue
            while i < stop:
                c = t[i]
                w = cp(c)
                end = i + 1
                is_space = c.isspace()
                if not is_space:
                    while end < n and end not in specials and (
                        _is_extender(t[end]) or t[end - 1] == "\u200d"
                    ):
                        cw = cp(t[end])
                        if w + cw > max_weight:
                            break
                        w += cw
                        end += 1
                starts.append(i)
                weights.append(w)
                space.append(is_space)
                i = end
        heaviest = max(weights, default=0)
        if heaviest > max_weight:
            raise ValueError("the limit leaves no room for a single character")
        prefix = [0, *accumulate(weights)]
        starts.append(n)
        self.starts, self.prefix, self.space = starts, prefix, space
        self.heaviest = heaviest
        self._breaks(t)

    def _sentence_end(self, t: str, k: int, enders: frozenset[str]) -> bool:
        """Does the text ending with atom ``k`` end a sentence (closing quotes allowed)?"""
        for _ in range(4):
            if k < 0 or self.space[k]:
                return False
            last = t[self.starts[k + 1] - 1]
            if last in enders:
                return True
            if last not in _CLOSERS:
                return False
            k -= 1
        return False

    def _breaks(self, t: str) -> None:
        # for each level, the chunk ends (atom indexes, ascending) at which a break of that
        # level or a better one may end a chunk, and where the next chunk then starts
        starts, space = self.starts, self.space
        n = len(space)
        found: list[tuple[int, int, int]] = []  # (end, resume, level)
        enders = _ENDERS | _CLOSERS
        # runs of whitespace atoms (found by the regex engine, not atom by atom)
        for m in _SPACE_RUN.finditer(space):
            s, k = m.span()
            if s == 0 or k == n:
                continue
            a, b = starts[s], starts[k]
            if b - a == 1 and t[a] == " ":
                newlines = 0
            else:
                newlines = t.count("\n", a, b)
            if newlines >= 2:
                level = _PARAGRAPH
            elif newlines == 1:
                level = _LINE
            elif t[a - 1] in enders and self._sentence_end(t, s - 1, _ENDERS):
                level = _SENTENCE
            else:
                level = _WORD
            found.append((s, k, level))
        # CJK sentences need no space: a break between two non-space atoms after a CJK
        # sentence end (and closing quotes); only the characters that can end one are looked at
        cjk = False
        for c in _CJK_BREAK_CANDIDATE.finditer(t):
            k = bisect_right(starts, c.start())  # the atom after the one holding the character
            if (
                k < n
                and starts[k] == c.end()
                and not space[k]
                and not space[k - 1]
                and t[starts[k]] not in _CLOSERS
                and self._sentence_end(t, k - 1, _CJK_ENDERS)
            ):
                found.append((k, k, _SENTENCE))
                cjk = True
        if cjk:
            found.sort()
        self.ends: list[list[int]] = [
            [e for e, _, lv in found if lv <= level] for level in range(4)
        ]
        self.resumes: list[list[int]] = [
            [r for _, r, lv in found if lv <= level] for level in range(4)
        ]

    def last_break(self, level: int, lo: int, hi: int) -> tuple[int, int] | None:
        """The last break of ``level`` or better ending a chunk in (lo, hi]."""
        ends = self.ends[level]
        j = bisect_right(ends, hi) - 1
        if j >= 0 and ends[j] > lo:
            return ends[j], self.resumes[level][j]
        return None


def _signature(text: str) -> tuple[str, str]:
    """(body, signature) — the signature with its leading whitespace, or ''."""
    stripped = text.rstrip()
    m = SIGNATURE.search(stripped, max(0, len(stripped) - 6))
    if m is None:
        return stripped, ""
    return stripped[: m.start()], m.group()


def _chunks(
    t: str, atoms: _Atoms, platform: str, limit: int, budget: int, extra: str
) -> list[tuple[int, int]]:
    """Greedy chunks (string spans) of ``t`` each within ``budget``, and within ``limit`` once
    ``extra`` (the widest numbering and the signature) is appended."""
    prefix, starts, space = atoms.prefix, atoms.starts, atoms.space
    last = len(space)
    while last > 0 and space[last - 1]:
        last -= 1
    a = 0
    while a < last and space[a]:
        a += 1
    out: list[tuple[int, int]] = []
    while a < last:
        room = budget
        while True:
            if prefix[last] - prefix[a] <= room:
                end, resume = last, last
            else:
                b_max = bisect_right(prefix, prefix[a] + room, lo=a) - 1
                choice = None
                for level in (_PARAGRAPH, _LINE, _SENTENCE):
                    br = atoms.last_break(level, a, b_max)
                    if br is not None and prefix[br[0]] - prefix[a] >= MIN_FILL * room:
                        choice = br
                        break
                if choice is None:
                    choice = atoms.last_break(_WORD, a, b_max)
                if choice is None:  # one word longer than a part: split it hard
                    b = max(b_max, a + 1)
                    choice = (b, b)
                end, resume = choice
            # the atom weights are exact except where a hard split changes what a piece
            # is (half a word can become a URL on X): check the part as it will go out
            over = weighted_length(t[starts[a] : starts[end]] + extra, platform) - limit
            if over <= 0 or end == a + 1:
                break
            room -= over
        out.append((starts[a], starts[end]))
        a = resume
        while a < last and space[a]:
            a += 1
    return out


def split(
    text: str,
    platform: str,
    limit: int | None = None,
    numbering: str = " ({i}/{n})",
) -> list[str]:
    """Split ``text`` into parts that each fit ``platform``'s limit (or ``limit``).

    A text that fits comes back unchanged as ``[text]``. Otherwise each part is a chunk of the
    text, then ``numbering`` (formatted with ``i`` and ``n``), then the staff signature if the
    text ends with one (`` ^JD``: whitespace, ``^``, 1–4 letters or digits), so that every
    part says who wrote it: ``"… (1/3) ^JD"``. Parts break at a paragraph, else a line, else
    a sentence (each only when the part is at least half full), else a word boundary; never
    inside a URL, an emoji or a word unless one word (or URL) is longer than a part, which is
    then split hard. Whitespace at a break is dropped. For X the text is NFC-normalised first,
    as X does. Raises ValueError if the limit leaves no room for text.
    """
    lim = _limit(platform, limit)
    if weighted_length(text, platform) <= lim:
        return [text]
    p = platform.lower()
    t = _nfc(text) if p == "x" else text
    body, sig = _signature(t)
    sig_w = weighted_length(sig, p)
    digits = 1
    atoms: _Atoms | None = None
    while True:
        widest = numbering.format(i=10**digits - 1, n=10**digits - 1)
        budget = lim - weighted_length(widest, p) - sig_w
        if budget < 1:
            raise ValueError(f"a limit of {lim} leaves no room for text beside numbering/signature")
        if atoms is None or atoms.heaviest > budget:
            atoms = _Atoms(body, p, budget)
        chunks = _chunks(body, atoms, p, lim, budget, widest + sig)
        if len(chunks) < 10**digits:
            break
        digits += 1  # the numbering got wider: split again with the narrower budget
    if not chunks:
        raise ValueError("nothing to split: the text is only a signature that does not fit")
    if len(chunks) == 1:  # it was only surrounding whitespace that did not fit
        return [body[chunks[0][0] : chunks[0][1]] + sig]
    n = len(chunks)
    return [body[s:e] + numbering.format(i=i, n=n) + sig for i, (s, e) in enumerate(chunks, 1)]
