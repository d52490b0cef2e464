"""The message catalogue: English and Korean carry the same keys and placeholders."""

from __future__ import annotations

from launchops.messages.i18n import catalogue, placeholders, t


def test_english_and_korean_have_the_same_keys() -> None:
    assert set(catalogue("en")) == set(catalogue("ko"))


def test_placeholders_match_per_key() -> None:
    english, korean = catalogue("en"), catalogue("ko")
    mismatched = {k for k in english if placeholders(english[k]) != placeholders(korean[k])}
    assert mismatched == set()


def test_translation_fills_placeholders_and_falls_back() -> None:
    assert t("owner.title", "en", component="Retriever") == "Retriever — who owns it"
    assert t("owner.title", "ko", component="검색기") == "검색기 — 담당 정보"
    assert t("owner.title", "fr", component="X") == "X — who owns it"
    assert t("no.such.key", "en") == "no.such.key"
