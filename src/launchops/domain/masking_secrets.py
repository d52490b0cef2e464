"""Secrets in free text: tokens with a known shape, `Bearer …`, `password=…`-style
assignments, passwords in URLs and long random-looking strings.

Kept apart from the PII kinds in `masking` because secrets are judged differently: a known
prefix is masked wherever it stands, and a string without one only when it looks random
(see `_looks_random`), so ids, hashes and versions in log lines stay readable. `masking.mask`
runs this first, so a token is taken whole before its digits could pass for a phone number.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise
from typing import Final

SECRET: Final = "[secret]"  # noqa: S105 - the placeholder, not a password
_DIGIT: Final = re.compile(r"[0-9]")


# Token shapes masked whole, wherever they stand (one alternation, one pass).
_TOKENS: Final = re.compile(
    "|".join(
        (
            # Slack bot/user/app/refresh tokens: xoxb-…, xoxp-…, xoxe-…, xapp-1-…
            r"(?<![A-Za-z0-9])xox[abeposr]-[A-Za-z0-9-]{10,}",
            r"(?<![A-Za-z0-9])xapp-[A-Za-z0-9-]{10,}",
            # OpenAI/Anthropic-style keys (sk-…, sk-proj-…); a digit is required so prose
            # like "sk-learn-compatible-estimators" stays.
            r"(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}",
            # Stripe secret and restricted keys.
            r"(?<![A-Za-z0-9])[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
            # AWS access key ids (long-term AKIA, temporary ASIA).
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
            # GitHub personal, OAuth, app and refresh tokens; fine-grained PATs.
            r"(?<![A-Za-z0-9_])gh[opsur]_[A-Za-z0-9]{20,}",
            r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}",
            # Google API keys.
            r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}",
            # JWTs: a base64url JSON header (always `eyJ`), a payload and a signature
            # (empty for alg=none).
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            # Slack incoming-webhook and workflow URLs carry their secret in the path.
            r"(?:(?<=hooks\.slack\.com/services/)|(?<=hooks\.slack\.com/workflows/)"
            r"|(?<=hooks\.slack\.com/triggers/))[A-Za-z0-9/_-]+",
        )
    )
)

# `Bearer <token>` in headers and error texts; the token needs a digit, so the prose
# "a Bearer token is required" stays.
_BEARER: Final = re.compile(
    r"(?P<keep>\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+)"
    r"(?=[A-Za-z0-9._~+/-]*[0-9])[A-Za-z0-9._~+/-]{8,}=*"
)

# `password=…`, `client_secret: …`, `"api_key": "…"`, `--token=…`, `SLACK_BOT_TOKEN=…`:
# the value goes, the name stays (it tells the reader what was there). The name may carry
# any prefix (db_password, x-api-key) but must end in the keyword, so `token_type=bearer`
# and `tokens=5` stay.
_ASSIGNMENT: Final = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_.-])-*(?:[A-Za-z0-9]+[_.-])*"
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|secret[_-]?key)"
    r"[\"']?[ \t]*[=:][ \t]*)"
    r"(?!=)"
    r"(?:(?P<quote>[\"'])(?P<quoted>[^\"'\n]+)(?P=quote)|(?P<bare>[^\s,;&\"'<>]+))",
    re.IGNORECASE,
)

# Passwords in URLs: postgresql://user:secret@host/db.
_URL_PASSWORD: Final = re.compile(r"(?P<keep>://[^\s:/@\[\]]*:)[^\s/@]+(?=@)")

# Long random-looking strings (API keys, signing secrets, base64 credentials) that have no
# recognisable prefix. Judged by _looks_random below.
_OPAQUE: Final = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{32,}+={0,2}(?![A-Za-z0-9+/=_-])")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_CLASS_OF: Final = {
    **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "u"),
    **dict.fromkeys("abcdefghijklmnopqrstuvwxyz", "l"),
    **dict.fromkeys("0123456789", "d"),
}


def _looks_random(candidate: str) -> bool:
    """Whether a long token is a secret rather than a path, identifier or hash.

    Hex needs 40+ characters (a 32-hex UUID without dashes or an MD5 is common in logs and
    harmless; SHA-1 length and beyond is where API secrets live). Otherwise upper case,
    lower case and digits must all appear and change often: a random base64 string switches
    class on about two adjacent characters in three, while paths and CamelCase identifiers
    (`/api/v1/incidents/INC-12/timeline`, `IncidentEscalationPolicyV2Handler`) switch only
    at word boundaries, and their letters repeat more than random ones do.
    """
    body = candidate.rstrip("=")
    if _HEX.fullmatch(body):
        return len(body) >= 40 and not body.isdigit() and not body.isalpha()
    classes = [c for c in map(_CLASS_OF.get, body) if c is not None]
    if len(set(classes)) < 3:
        return False
    switches = sum(1 for a, b in pairwise(classes) if a != b)
    if switches < 0.4 * (len(classes) - 1):
        return False
    counts = Counter(ch for ch in body if ch in _CLASS_OF)
    total = sum(counts.values())
    entropy = -sum(n / total * math.log2(n / total) for n in counts.values())
    return entropy >= 3.8


# Substring tests are an order of magnitude cheaper than a failed alternation over every
# position, and almost every text fails them.
_TOKEN_HINTS: Final = (
    *("xox", "xapp", "sk-", "k_live_", "k_test_", "AKIA", "ASIA", "AIza", "eyJ"),
    *("ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_", "hooks.slack.com/"),
)
_ASSIGNMENT_HINTS: Final = ("pass", "secret", "token", "key")


def mask_secrets(text: str) -> str:
    """`text` with every secret replaced by `[secret]`."""
    if any(hint in text for hint in _TOKEN_HINTS):
        text = _TOKENS.sub(SECRET, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["keep"] + SECRET, text)
    folded = text.lower()
    if "bearer" in folded:
        text = _BEARER.sub(lambda m: m["keep"] + SECRET, text)
    if any(hint in folded for hint in _ASSIGNMENT_HINTS):
        text = _ASSIGNMENT.sub(_mask_assignment, text)
    if len(text) >= 32 and _DIGIT.search(text):
        text = _OPAQUE.sub(lambda m: SECRET if _looks_random(m[0]) else m[0], text)
    return text


def _mask_assignment(match: re.Match[str]) -> str:
    if match["quote"]:
        return f"{match['key']}{match['quote']}{SECRET}{match['quote']}"
    return match["key"] + SECRET
