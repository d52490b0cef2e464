"""PII and secret masking for failure texts and log lines (DESIGN §5 "Private").

Failure reviews and logs outlive the incident and are read by far more people than the
responders, so whatever a person pasted into a title, a note or an error message —
an email, a phone number, a card number, a Korean resident registration number, an API
token — is replaced by a typed placeholder before it is stored or logged. The placeholder
keeps the text readable ("paged [phone]", "token=[secret]") and says what was there.

The rules lean two ways on purpose. Secrets and identifiers with a recognisable shape
(Slack and GitHub tokens, JWTs, Luhn-valid card numbers, RRNs with a real date) are masked
wherever they appear. Everything guessed from shape alone (long random-looking strings,
digit runs) is masked only when it is unlikely to be an ordinary log field: incident
numbers, ISO timestamps, Slack message timestamps, versions, ports, UUIDs and git-style
short hashes must stay readable, or the logs stop being useful for the very incidents they
record.

Kinds run in a fixed order — secrets, emails, IP addresses, RRNs, cards, phones — so a
token or an address is taken whole before its digits could be mistaken for a phone number,
and an RRN before its 13 digits could pass as a card. Loopback and unspecified addresses
(127.0.0.1, ::1, 0.0.0.0) identify nobody and stay, so local URLs in logs stay readable.
Placeholders contain no digits, no `@` and no token shapes, so masking an already masked
text changes nothing.

Pure: no I/O, no clock, no global state beyond precompiled patterns.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from typing import Any, Final

import phonenumbers

from launchops.domain.masking_secrets import SECRET, mask_secrets

EMAIL: Final = "[email]"
PHONE: Final = "[phone]"
CARD: Final = "[card]"
RRN: Final = "[rrn]"
IP: Final = "[ip]"
PLACEHOLDERS: Final = (EMAIL, PHONE, CARD, RRN, SECRET, IP)

# Texts matching none of these cannot hold anything masked below: every kind needs a digit,
# an `@`, a separator (`-`, `_`, `=`, `:`) or one of the few prefixes that may come
# without them. Most log events and chat texts are short prose, and skip all the work.
_MAYBE_SENSITIVE: Final = re.compile(r"[0-9@=:_-]|bearer|akia|asia|eyj", re.IGNORECASE)
_DIGIT: Final = re.compile(r"[0-9]")

# --- emails --------------------------------------------------------------------------------

# RFC 5322's common subset: a dot-atom local part and a domain with a real (alphabetic)
# TLD. `user@host`, `@channel`, `<@U123>` and `a@b` stay.
_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])"
)

# --- IP addresses --------------------------------------------------------------------------

# Dotted quads standing on their own: not inside a longer dotted run (a version 1.2.3.4.5),
# not after a letter (v1.2.3.4). Octets are checked by `ipaddress`, so 999.1.1.1 stays.
_IPV4: Final = re.compile(r"(?<![0-9A-Za-z.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
# IPv6 candidates: hex groups with at least two colons; `ipaddress` decides, so clock times
# (12:30:45) and MAC addresses (eight groups are needed, or a `::`) stay.
_IPV6: Final = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])"
)


def _mask_ip(match: re.Match[str]) -> str:
    try:
        address = ipaddress.ip_address(match[0])
    except ValueError:
        return match[0]
    if address.is_loopback or address.is_unspecified:
        return match[0]
    return IP


def _mask_ips(text: str) -> str:
    if "." in text:
        text = _IPV4.sub(_mask_ip, text)
    if "::" in text or text.count(":") >= 7:
        text = _IPV6.sub(_mask_ip, text)
    return text


# --- Korean resident registration numbers -----------------------------------------------

# YYMMDD-GNNNNNN, the dash optional; G (1-8) gives sex and century (and, from 5 on, a
# foreign resident). Only real dates count, so 13-digit ids and order numbers stay. The
# check digit is not tested: numbers issued since October 2020 no longer carry one.
_RRN: Final = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9][.-])"
    r"(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})(?P<dd>[0-9]{2})-?(?P<g>[1-8])[0-9]{6}"
    r"(?![0-9A-Za-z])(?![.-][0-9])"
)
_CENTURY_OF: Final = {"1": 1900, "2": 1900, "5": 1900, "6": 1900}  # others: 2000


def _mask_rrn(match: re.Match[str]) -> str:
    year = _CENTURY_OF.get(match["g"], 2000) + int(match["yy"])
    try:
        dt.date(year, int(match["mm"]), int(match["dd"]))
    except ValueError:
        return match[0]
    return RRN


# --- payment cards -------------------------------------------------------------------------

# A run of digit groups joined by single spaces or dashes, standing on its own (not part
# of a word, a decimal like 0.4111111111111111 or a dotted version). Which groups form a
# card is decided in _mask_card_run.
_DIGIT_RUN: Final = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9]\.)[0-9]++(?:[ -][0-9]++)*+(?![0-9A-Za-z])(?!\.[0-9])"
)
_GROUP_SEPARATOR: Final = re.compile(r"([ -])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    """13-19 digits, Luhn-valid, and issued by a payment network.

    The first digit (the major industry identifier) must be 2-6: Mastercard, Amex, Diners,
    JCB, Visa, Discover, UnionPay, Maestro. Luhn alone passes one random number in ten,
    and millisecond timestamps and snowflake ids (which start with 1) are everywhere in
    logs.
    """
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn_ok(digits)


def _mask_card_run(match: re.Match[str]) -> str:
    """Mask the card numbers within one run of digit groups.

    A card is written whole or in groups of 3+ digits ("4111 1111 1111 1111",
    "3782 822463 10005"), but the run may carry neighbours ("2026-11-22 4111111111111111",
    "card 4111 1111 1111 1111 2 times"): the longest group-aligned window that is a card
    is masked, from the left.
    """
    run = match[0]
    if len(run) < 13:
        return run
    parts = _GROUP_SEPARATOR.split(run)
    groups, separators = parts[0::2], [*parts[1::2], ""]
    out: list[str] = []
    start = 0
    while start < len(groups):
        end = _card_window_end(groups, start)
        if end is None:
            out += (groups[start], separators[start])
            start += 1
        else:
            out += (CARD, separators[end])
            start = end + 1
    return "".join(out)


def _card_window_end(groups: list[str], start: int) -> int | None:
    """The last group of the longest card starting at groups[start], if there is one."""
    found = None
    digits = ""
    for end in range(start, len(groups)):
        if end > start and (len(groups[end]) < 3 or len(groups[start]) < 3):
            break
        digits += groups[end]
        if len(digits) > 19:
            break
        if _is_card(digits):
            found = end
    return found


# --- phone numbers -------------------------------------------------------------------------

# Regions whose national formats (010-1234-5678, (415) 555-2671) are recognised; numbers
# written with + and a country code are recognised from any of them.
_PHONE_REGIONS: Final = ("KR", "US")
# The matcher is slow (a few hundred microseconds per text): run it only where 7+ digits
# stand close together, the fewest any number in those regions has.
_PHONE_HINT: Final = re.compile(r"[0-9](?:[^0-9A-Za-z]{0,3}[0-9]){6}")
_CLOSER_OF: Final = {"(": ")", "[": "]"}
# Dates, clock times and Slack message timestamps ("2026-11-22T01:15:03Z",
# "1700000000.000100") are the usual 7-digit clusters in log lines, and never phone
# numbers: they are blanked for the hint only, the matcher still sees the whole text.
_NOT_PHONE: Final = re.compile(
    r"(?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]"
    r"|[0-2]?[0-9]:[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]+)?)?"
    r"|(?<![0-9])[0-9]{10}\.[0-9]{6}(?![0-9])"
)


def _mask_phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for region in _PHONE_REGIONS:
        for found in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.VALID
        ):
            start, raw = found.start, found.raw_string
            # The matcher takes an opening bracket with the number even when the closing
            # one is left outside ("(010-1234-5678)"); leave both to the text.
            if raw[0] in _CLOSER_OF and _CLOSER_OF[raw[0]] not in raw:
                start += 1
            spans.append((start, found.end))
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):  # both regions may find a number: merge overlaps
        if start >= position:
            out += (text[position:start], PHONE)
            position = end
        elif end > position:
            position = end
    out.append(text[position:])
    return "".join(out)


# --- entry points --------------------------------------------------------------------------


def mask(text: str) -> str:
    """`text` with every email, phone, card, RRN, IP address and secret replaced by its
    placeholder.

    Idempotent, so text masked before it was stored can be masked again when logged. One
    pass nearly always is: but a later kind can free an earlier one's match (a phone
    number glued to a hex secret hid the secret's end), so passes repeat, only for texts
    that had something masked, until nothing changes.
    """
    for _ in range(_MAX_PASSES):
        masked = _mask_once(text)
        if masked == text:
            break
        text = masked
    return text


# A pass that changes the text turns sensitive characters into placeholders, which no kind
# matches again, so the passes run out; the bound is a guard, the second pass is the last
# in practice.
_MAX_PASSES: Final = 5


def _mask_once(text: str) -> str:
    if not _MAYBE_SENSITIVE.search(text):
        return text
    text = mask_secrets(text)
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    if _DIGIT.search(text):
        text = _mask_ips(text)
        text = _RRN.sub(_mask_rrn, text)
        text = _DIGIT_RUN.sub(_mask_card_run, text)
        if _PHONE_HINT.search(_NOT_PHONE.sub("_", text)):
            text = _mask_phones(text)
    return text


_UNCHANGED_TYPES: Final = (type(None), bool, float)


def mask_value(value: Any) -> Any:
    """`value` with `mask` applied to every string in it, for structured log events.

    Dicts (values only: keys are names chosen by code), lists, tuples and sets are rebuilt
    with their items masked. Any other object is kept unless its repr() — which is what a
    log renderer prints — holds something to mask; then the masked repr() stands in, so
    `card=4111111111111111` as an int or `error=ValueError("… a@b.com")` is masked too.
    """
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, tuple):
        items = [mask_value(item) for item in value]
        make: Callable[[list[Any]], Any] | None = getattr(value, "_make", None)  # namedtuple
        return make(items) if make is not None else tuple(items)
    if isinstance(value, set | frozenset):
        return type(value)(mask_value(item) for item in value)
    if isinstance(value, _UNCHANGED_TYPES):
        return value
    try:
        shown = repr(value)
    except Exception:  # a broken __repr__ is the renderer's problem, not ours
        return value
    masked = mask(shown)
    return value if masked == shown else masked
