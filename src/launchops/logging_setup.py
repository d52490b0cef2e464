"""structlog configuration: JSON lines for servers, quiet readable lines for the console.

Every log line passes through PII/secret masking (DESIGN §5 "Private"): structlog events
through `mask_event`, and lines from other libraries' stdlib loggers through the root
handler's `MaskingFormatter`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

import structlog
from structlog.typing import EventDict, WrappedLogger

from launchops.domain.masking import mask, mask_value

# Left as they are: `timestamp` is our own clock reading (and ISO timestamps are the most
# common digit cluster; masking them would only cost time), `exc_info` is needed raw by a
# later exception formatter when format_exc_info did not run, and `_record` /
# `_from_structlog` belong to structlog's stdlib bridge.
_RAW_KEYS: Final = frozenset({"timestamp", "exc_info", "_record", "_from_structlog"})

# Values masking has already left unchanged (short strings and ints): event names, levels,
# routes, severities, and a request's id on its second line. Masking them again cost ~20 µs
# a line (a hex request id ~17). Only values with nothing to mask are kept, so the set holds
# no personal data; it is emptied when full, and refills with what recurs.
_CLEAN: set[str | int] = set()
_CLEAN_MAX: Final = 4096
_CLEAN_LONGEST: Final = 64
# No integer of fewer than seven digits is masked (checked over all of them): no phone,
# card, RRN or IP address is that short.
_SMALL_INT: Final = 1_000_000


def mask_event(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Mask PII and secrets in every value of the event, `event` and `exception` included.

    Place it after `format_exc_info`, so tracebacks are text by then and get masked too,
    and before the renderer.
    """
    for key, value in event_dict.items():
        if key in _RAW_KEYS:
            continue
        kind = type(value)
        if kind is int:  # exactly int: a bool (or an IntEnum) takes the general path
            if -_SMALL_INT < value < _SMALL_INT or value in _CLEAN:
                continue
        elif kind is str:
            if value in _CLEAN:
                continue
        else:
            event_dict[key] = mask_value(value)
            continue
        masked = mask_value(value)
        if masked == value and (kind is int or len(value) <= _CLEAN_LONGEST):
            if len(_CLEAN) >= _CLEAN_MAX:
                _CLEAN.clear()
            _CLEAN.add(value)
        else:
            event_dict[key] = masked
    return event_dict


class MaskingFormatter(logging.Formatter):
    """Masks whole formatted lines, tracebacks included, from non-structlog loggers.

    HTTP clients and SDKs log URLs, headers and error bodies that may carry tokens; they
    reach the root handler without passing through structlog's processors.
    """

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def _json_formatter() -> logging.Formatter:
    """Lines from other libraries' stdlib loggers (alembic, uvicorn, APScheduler, SDKs) as the
    same masked JSON objects as our own, so a server's output is one JSON object per line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_event,
            structlog.processors.JSONRenderer(),
        ],
    )


class _StderrNow:
    """Whatever `sys.stderr` is at each write. A stream captured at configure time may be
    closed later (a test runner's, a CLI runner's), and a log line must never fail the code
    that logs it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def processors(renderer: structlog.typing.Processor) -> list[structlog.typing.Processor]:
    """structlog's chain as `launchops serve` runs it, up to `renderer`: masking last."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_event,
        renderer,
    ]


def configure(*, json: bool, level: int = logging.INFO) -> None:
    stream: Any = _StderrNow()
    logging.basicConfig(stream=stream, level=level, format="%(message)s", force=True)
    formatter = _json_formatter() if json else MaskingFormatter("%(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        # Plain tracebacks: rich's would print local variables, message texts included.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line (print() makes two: the text, then the newline).
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
