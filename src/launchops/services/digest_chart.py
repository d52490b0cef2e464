"""The digest's trend chart: failure cases per week over the last eight weeks, as a PNG.

Drawn with PIL.ImageDraw and its built-in bitmap font (no matplotlib, no font files): bars
with their counts above and week labels below, the newest week highlighted. Labels are
digits and ASCII only, so no font coverage question arises in any language.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

__all__ = ["trend_png"]

WIDTH, HEIGHT = 640, 320
_MARGIN_X, _TOP, _BOTTOM = 40, 40, 40
_BAR = (74, 144, 226)
_NEWEST = (226, 94, 62)
_INK = (40, 40, 40)
_GRID = (220, 220, 220)


def trend_png(counts: Sequence[int], labels: Sequence[str], title: str) -> bytes:
    """A bar chart of `counts` (oldest first) labelled by `labels`; `title` in ASCII."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text((_MARGIN_X, 12), title, fill=_INK)
    base = HEIGHT - _BOTTOM
    draw.line([(_MARGIN_X, base), (WIDTH - _MARGIN_X, base)], fill=_INK)
    highest = max([*counts, 1])
    for step in (0.25, 0.5, 0.75, 1.0):
        y = base - int(step * (base - _TOP))
        draw.line([(_MARGIN_X, y), (WIDTH - _MARGIN_X, y)], fill=_GRID)
    slot = (WIDTH - 2 * _MARGIN_X) / max(len(counts), 1)
    for n, (count, label) in enumerate(zip(counts, labels, strict=True)):
        left = _MARGIN_X + n * slot + slot * 0.2
        right = _MARGIN_X + (n + 1) * slot - slot * 0.2
        top = base - (base - _TOP) * count / highest
        colour = _NEWEST if n == len(counts) - 1 else _BAR
        if count:
            draw.rectangle([(left, top), (right, base)], fill=colour)
        draw.text((left, top - 14), str(count), fill=_INK)
        draw.text((left, base + 6), label, fill=_INK)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
