"""PII/secret masking (DESIGN §5 "Private"): what goes, what stays, and that logs use it.

Both directions matter. A miss leaks a phone number or a token into a failure review that
the whole company reads; an over-eager mask turns `INC-12` or a Slack message timestamp
into `[phone]` and makes the log useless for the incident it records.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections import namedtuple
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import structlog
from hypothesis import example, given
from hypothesis import strategies as st

from launchops.domain.masking import PLACEHOLDERS, mask, mask_value
from launchops.logging_setup import configure, mask_event

# Fake credentials in the real shapes (none of them is or was ever valid).
SLACK_BOT = "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_USER = "xoxp-1234567890123-1234567890123-1234567890123-0123456789abcdef0123456789abcdef"
SLACK_APP = "xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef"
OPENAI = "sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n"
OPENAI_LEGACY = "sk-" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0nOpQrStUv"
AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB_PAT = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITHUB_FINE = "github_pat_11ABCDEFG0123456789_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
GITHUB_APP = "ghs_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
RANDOM_KEY = "q7Xv2LmZ9aB4kT1pW8rN3sD6fH0jY5cE"  # 32 chars, no prefix
HEX_SECRET = "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f0a"  # 40 hex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # emails
        ("mail alice@example.com now", "mail [email] now"),
        ("a.b+ops@search.example.co.kr wrote", "[email] wrote"),
        ("<mailto:kim@corp.io|kim@corp.io>", "<mailto:[email]|[email]>"),
        ("담당자 이메일: hong@example.kr로 연락", "담당자 이메일: [email]로 연락"),
        # phones: Korean, US, international
        ("call 010-1234-5678", "call [phone]"),
        ("01012345678", "[phone]"),
        ("010.1234.5678", "[phone]"),
        ("+82 10 1234 5678", "[phone]"),
        ("+82-2-123-4567 (Seoul office)", "[phone] (Seoul office)"),
        ("서울 02-123-4567 로 연락", "서울 [phone] 로 연락"),
        ("(415) 555-2671", "[phone]"),
        ("1-800-555-0199 toll free", "[phone] toll free"),
        ("인터넷전화 070-1234-5678", "인터넷전화 [phone]"),
        ("+1 415-555-2671.", "[phone]."),
        ("415.555.2671", "[phone]"),
        ("uk desk +44 20 7946 0958", "uk desk [phone]"),
        ("on-call (010-1234-5678)", "on-call ([phone])"),
        # payment cards (Luhn-valid, with or without separators)
        ("card 4111 1111 1111 1111 declined", "card [card] declined"),
        ("5500-0000-0000-0004", "[card]"),
        ("4111111111111111", "[card]"),
        ("amex 3782 822463 10005", "amex [card]"),
        ("카드 4111111111111111로 결제", "카드 [card]로 결제"),
        ("2026-11-22 4111111111111111", "2026-11-22 [card]"),
        ("card 4111 1111 1111 1111 2 times", "card [card] 2 times"),
        # Korean resident registration numbers
        ("주민번호 900101-1234567", "주민번호 [rrn]"),
        ("9001011234567", "[rrn]"),
        ("000229-3123456", "[rrn]"),  # 29 Feb 2000
        ("foreigner 851231-5123456", "foreigner [rrn]"),
        # tokens and secrets
        (f"token {SLACK_BOT} leaked", "token [secret] leaked"),
        (SLACK_USER, "[secret]"),
        (SLACK_APP, "[secret]"),
        (f"Authorization: Bearer {RANDOM_KEY[:20]}", "Authorization: Bearer [secret]"),
        (f"Bearer {JWT}", "Bearer [secret]"),
        (OPENAI, "[secret]"),
        (f"key={OPENAI_LEGACY}", "key=[secret]"),
        (f"aws {AWS} used", "aws [secret] used"),
        (GITHUB_PAT, "[secret]"),
        (GITHUB_FINE, "[secret]"),
        (GITHUB_APP, "[secret]"),
        (f"jwt={JWT}", "jwt=[secret]"),
        (f"session {JWT}", "session [secret]"),
        ("password=hunter2 then", "password=[secret] then"),
        ("db_password: 'hunter two'", "db_password: '[secret]'"),
        ('{"api_key": "abc123"}', '{"api_key": "[secret]"}'),
        ("--token=abc next", "--token=[secret] next"),
        ("SLACK_SIGNING_SECRET=8f14e45fceea167a5a36dedd4bea2543", "SLACK_SIGNING_SECRET=[secret]"),
        (
            "https://x.io/cb?code=1&access_token=abc&state=2",
            "https://x.io/cb?code=1&access_token=[secret]&state=2",
        ),
        (
            "postgresql://app:s3cret@db:5432/launchops",
            "postgresql://app:[secret]@db:5432/launchops",
        ),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "https://hooks.slack.com/services/[secret]",
        ),
        (f"opaque {RANDOM_KEY}", "opaque [secret]"),
        (f"sha {HEX_SECRET}", "sha [secret]"),
        # IP addresses (loopback stays, see below)
        ("서버 192.168.0.12에서 오류", "서버 [ip]에서 오류"),
        ("client=10.0.0.1:5432", "client=[ip]:5432"),
        ("from 203.0.113.7.", "from [ip]."),
        ("ipv6 2001:db8::8a2e:370:7334 here", "ipv6 [ip] here"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[ip]"),
        # glued to Korean text, no spaces at all
        ("연락처010-1234-5678로", "연락처[phone]로"),
        ("연락처01012345678로연락", "연락처[phone]로연락"),
        ("전화+82-10-1234-5678입니다", "전화[phone]입니다"),
        ("메일은alice@example.com입니다", "메일은[email]입니다"),
        ("카드4111-1111-1111-1111로결제", "카드[card]로결제"),
        ("주민번호900101-1234567입니다", "주민번호[rrn]입니다"),
        ("토큰xoxb-1234567890-abcdefghij로", "토큰[secret]로"),
        ("서버192.168.0.12에서", "서버[ip]에서"),
        # several kinds in one text
        (
            f"alice@example.com paged 010-1234-5678 with {SLACK_BOT}",
            "[email] paged [phone] with [secret]",
        ),
    ],
)
def test_masks(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "INC-12",
        "incident INC-1234 declared",
        "2026-11-22T01:15:03Z",
        "2026-11-22T01:15:03.123456+09:00",
        "2026-11-22 01:15:03",
        "1700000000.000100",  # a Slack message ts
        "thread_ts=1700000000.000100",
        "1700000000123",  # epoch milliseconds
        "v1.2.3",
        "launchops 0.1.0",
        "p0",
        "P1 on retriever",
        "retriever",
        "port 5432",
        "127.0.0.1:8080",
        "::1",
        "0.0.0.0:3000",
        "v1.2.3.4",
        "1.2.3.4.5",
        "999.1.1.1",
        "12:30:45",
        "00:1a:2b:3c:4d:5e",  # a MAC address
        "took 1234567 ms",
        "year 2026",
        "550e8400-e29b-41d4-a716-446655440000",  # a UUID
        "1234567812345678",  # 16 digits, fails Luhn
        "4111 1111 1111 1112",  # card-shaped, fails Luhn
        "0.30000000000000004 0.4111111111111111",  # floats
        "991332-1234567",  # no 13th month
        "900101-9234567",  # 9 is not a current RRN gender digit
        "user@localhost",
        "@channel <@U0ALICE>",
        "a Bearer token is required",
        "token_type=bearer tokens=5",
        "password=",
        "d41d8cd98f00b204e9800998ecf8427e",  # 32-hex digest: below the 40-hex bar
        "/api/v1/incidents/INC-12/timeline",
        "IncidentEscalationPolicyV2Handler",
        "launchops-worker-7d9f8b6c4-x2k9p",
        "sk-learn-compatible-estimators-only",
        "task-AbCdEf0123456789AbCdEf0123",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "[email] [phone] [card] [rrn] [secret] [ip]",
        "검색기 담당자 누구야?",
    ],
)
def test_leaves_alone(text: str) -> None:
    assert mask(text) == text


def test_rrn_dates_follow_the_century_of_the_gender_digit() -> None:
    """Gender digits 1/2 (and 5/6) are the 1900s, 3/4 (and 7/8) the 2000s: 29 Feb needs a
    leap year in *that* century, so the same six digits can be a date or not."""
    assert mask("000229-1123456") == "000229-1123456"  # 1900 was not a leap year
    assert mask("000229-3123456") == "[rrn]"  # 2000 was
    assert mask("050229-3123456") == "050229-3123456"  # 2005 was not


def test_placeholders_name_what_was_there() -> None:
    assert PLACEHOLDERS == ("[email]", "[phone]", "[card]", "[rrn]", "[secret]", "[ip]")


# --- properties ----------------------------------------------------------------------------

SENSITIVE_PIECES = [
    "alice@example.com",
    "010-1234-5678",
    "+82 10 1234 5678",
    "(415) 555-2671",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "900101-1234567",
    "192.168.0.12",
    "2001:db8::1",
    SLACK_BOT,
    OPENAI,
    AWS,
    GITHUB_PAT,
    JWT,
    "password=hunter2",
    "Bearer abc123def456",
    RANDOM_KEY,
    HEX_SECRET,
    "INC-12",
    "2026-11-22T01:15:03Z",
    "1700000000.000100",
    "[phone]",
    " ",
    "-",
    "=",
    "@",
    ":",
]
MIXED_TEXT = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(SENSITIVE_PIECES)), max_size=8
).map("".join)


def _placeholder_chars(text: str) -> int:
    return sum(text.count(p) * len(p) for p in PLACEHOLDERS)


@given(MIXED_TEXT)
@example("alice@example.com")
@example("x" * 300 + "1 " * 200)
def test_never_raises_nor_grows_beyond_its_placeholders(text: str) -> None:
    """Every character of the output that is not a placeholder came from the input."""
    masked = mask(text)
    assert len(masked) - _placeholder_chars(masked) <= len(text)


@given(MIXED_TEXT)
@example(f"{SLACK_BOT}alice@example.com")
@example("password=010-1234-5678")
@example("4111 1111 1111 1111 900101-1234567 010-1234-5678")
@example(f"{HEX_SECRET}+82100000000")  # the phone hid the secret's end
def test_is_idempotent(text: str) -> None:
    """Masking stored text again (a re-logged failure text) changes nothing."""
    once = mask(text)
    assert mask(once) == once


# Substrings that may introduce a secret without any digit or `@`.
_DIGITLESS_TRIGGERS = (
    *("xox", "xapp", "sk-", "sk_", "rk_", "akia", "asia", "aiza", "gh", "github_pat"),
    *("eyj", "bearer", "hooks.slack", "pass", "secret", "token", "key"),
)


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="@")))
@example("Search index is returning stale results — 검색 결과가 오래됨: see runbook_v_two")
def test_text_without_digits_at_signs_or_token_prefixes_is_untouched(text: str) -> None:
    folded = text.lower()
    if any(trigger in folded for trigger in _DIGITLESS_TRIGGERS):
        return
    assert mask(text) == text


def _luhn_complete(partial: str) -> str:
    """`partial` plus the check digit that makes it pass Luhn."""
    for check in "0123456789":
        candidate = partial + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one check digit always fits")


@given(
    st.sampled_from("2345"),
    st.text(alphabet="0123456789", min_size=14, max_size=14),
    st.sampled_from(["", " ", "-"]),
)
def test_every_luhn_valid_16_digit_card_is_masked(first: str, middle: str, sep: str) -> None:
    digits = _luhn_complete(first + middle)
    written = sep.join(digits[i : i + 4] for i in range(0, 16, 4))
    assert mask(f"charged {written} today") == "charged [card] today"


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_luhn_invalid_numbers_are_never_cards(digits: str) -> None:
    if _luhn_complete(digits[:-1]) == digits:
        return
    assert "[card]" not in mask(f"ref {digits}")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)), st.booleans())
def test_every_rrn_with_a_real_birth_date_is_masked(born: date, dash: bool) -> None:
    gender = "1" if born.year < 2000 else "3"
    rrn = f"{born:%y%m%d}{'-' if dash else ''}{gender}234567"
    assert mask(f"RRN {rrn}.") == "RRN [rrn]."


# --- structured values ---------------------------------------------------------------------

Contact = namedtuple("Contact", ["name", "email"])


def test_mask_value_masks_nested_strings_and_keeps_keys_and_scalars() -> None:
    event = {
        "alice@example.com": "key kept",
        "people": [{"email": "bob@example.com", "age": 42}, ("010-1234-5678", None)],
        "ratio": 0.5,
        "ok": True,
        "tags": {"a@b.io"},
        "count": 7,
    }
    assert mask_value(event) == {
        "alice@example.com": "key kept",
        "people": [{"email": "[email]", "age": 42}, ("[phone]", None)],
        "ratio": 0.5,
        "ok": True,
        "tags": {"[email]"},
        "count": 7,
    }


def test_mask_value_keeps_namedtuples_and_masks_reprs_that_leak() -> None:
    """A renderer prints repr() of anything that is not a string: an int card number or an
    exception whose message holds an address leaks unless its repr is masked."""
    assert mask_value(Contact("kim", "kim@corp.io")) == Contact("kim", "[email]")
    assert type(mask_value(Contact("kim", "kim@corp.io"))) is Contact
    assert mask_value(4111111111111111) == "[card]"
    assert mask_value(ValueError("no user kim@corp.io")) == "ValueError('no user [email]')"
    plain = ValueError("nothing to hide")
    assert mask_value(plain) is plain


# --- logs ----------------------------------------------------------------------------------


def _log_with_everything(log: Any) -> None:
    try:
        raise RuntimeError(f"lookup failed for carol@example.com using {SLACK_BOT}")
    except RuntimeError:
        log.exception(
            f"page to dave@example.com failed with {SLACK_APP}",
            target="erin@example.com",
            headers={"authorization": f"Bearer {SLACK_BOT}"},
        )


LEAKS = ("example.com", "xoxb-", "xapp-", "1234567890123")


def _assert_masked(output: str) -> None:
    assert output.strip(), "nothing was logged"
    for leak in LEAKS:
        assert leak not in output, f"{leak!r} leaked into: {output}"
    assert "[email]" in output
    assert "[secret]" in output
    assert "Traceback" in output  # the exception is still there, just masked
    assert "RuntimeError: lookup failed for [email] using [secret]" in output


@pytest.mark.parametrize(
    "renderer",
    [
        structlog.processors.JSONRenderer(),
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        ),
    ],
    ids=["json", "console"],
)
def test_mask_event_masks_event_keywords_and_tracebacks(
    renderer: structlog.typing.Processor,
) -> None:
    """A pipeline of its own (wrap_logger), so the global structlog config is untouched."""
    out = io.StringIO()
    log = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[structlog.processors.format_exc_info, mask_event, renderer],
    )
    _log_with_everything(log)
    _assert_masked(out.getvalue())


def test_mask_event_leaves_timestamps_and_exc_info_for_later_processors() -> None:
    info = (None, None, None)
    event = {"event": "a@b.io", "timestamp": "2026-11-22T01:15:03Z", "exc_info": info}
    assert mask_event(None, "info", event) == {
        "event": "[email]",
        "timestamp": "2026-11-22T01:15:03Z",
        "exc_info": info,
    }


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure() replaces global logging state: give it back to the rest of the suite."""
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in saved_handlers:
                handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize("as_json", [True, False], ids=["serve", "console"])
def test_configure_masks_structlog_and_stdlib_lines(
    as_json: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `launchops serve` and `launchops console` set up masks their logs, and the
    masking runs after format_exc_info, so tracebacks are masked too."""
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    configure(json=as_json)

    processors = structlog.get_config()["processors"]
    assert (
        processors.index(mask_event) == processors.index(structlog.processors.format_exc_info) + 1
    )

    _log_with_everything(structlog.get_logger("launchops.test"))
    logging.getLogger("some.sdk").warning("POST failed for frank@example.com token=abc123")
    output = err.getvalue()
    _assert_masked(output)
    assert "POST failed for [email] token=[secret]" in output
    if as_json:
        first = json.loads(output.splitlines()[0])
        assert first["target"] == "[email]"
        assert first["timestamp"].startswith("20")


def test_the_suite_logs_through_the_masking_too(caplog: pytest.LogCaptureFixture) -> None:
    """tests/conftest.py configures structlog like production, mask_event included."""
    structlog.get_logger("launchops.test").warning("reach grace@example.com", phone="010-1234-5678")
    assert "reach [email]" in caplog.text
    assert "phone=[phone]" in caplog.text
    assert "grace@example.com" not in caplog.text
