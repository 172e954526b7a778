"""Staff commands: ``/claim 12``, ``/answer 12 text``, button keys like ``claim:12``.

Parsing only; the desk decides who may run them (roster user ids, never the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: command -> (takes a question id, takes text)
COMMANDS: dict[str, tuple[bool, bool]] = {
    "claim": (True, False),
    "release": (True, False),
    "answer": (True, True),
    "ask": (True, True),
    "dm": (True, True),
    "note": (True, True),
    "resolve": (True, False),
    "transfer": (True, True),
    "details": (True, False),
    "send": (True, False),
    "override": (True, True),
    "takeover": (True, False),
    "queue": (False, False),
    "stats": (False, False),
    "help": (False, False),
    "on": (False, False),
    "away": (False, False),
    "off": (False, False),
    "auto": (False, False),
}

#: other words staff use for the same command (Telegram's issue names /onshift)
ALIASES: dict[str, str] = {"onshift": "on", "offshift": "off", "mystats": "stats"}

HELP = (
    "Commands: /claim N · /answer N text · /ask N text (answer and wait for the customer) "
    "· /dm N text (move to private) · /note N text "
    "(internal) · /release N · /resolve N · /transfer N staff-id · /details N · /queue · "
    "/send N (the compliant version of a stopped reply) · /override N reason (leads) · "
    "/stats (your answers this week) · "
    "/takeover N (leads) · /on (or /onshift) · /away · /off (or /offshift) · /auto "
    "(follow your shifts). "
    "Or reply to a question's notification: plain text answers it, a /command without "
    "a number applies to it."
)

_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)
_QID = re.compile(r"^#?(\d{1,12})\b\s*(.*)$", re.DOTALL)
_ACTION = re.compile(r"^([a-z]+):(\d{1,12})$")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    question_id: int | None = None
    text: str = ""


class UnknownCommand(ValueError):
    pass


def parse_command(text: str) -> Command | None:
    """The command in a staff message, None when it is plain text.

    Raises UnknownCommand for a slash word that is no command (so staff get help rather than
    having a typo sent to a customer as an answer).
    """
    m = _COMMAND.match(text.strip())
    if m is None:
        return None
    name = m.group(1).lower()
    name = ALIASES.get(name, name)
    rest = (m.group(2) or "").strip()
    if name == "start":
        return None
    if name not in COMMANDS:
        raise UnknownCommand(f"unknown command /{name}")
    takes_id, _ = COMMANDS[name]
    qid: int | None = None
    if takes_id:
        q = _QID.match(rest)
        if q is not None:
            qid = int(q.group(1))
            rest = q.group(2).strip()
    return Command(name, qid, rest)


def parse_action(data: str) -> Command | None:
    """A button's short key, e.g. ``claim:12``."""
    m = _ACTION.match(data.strip())
    if m is None or m.group(1) not in COMMANDS:
        return None
    return Command(m.group(1), int(m.group(2)))
