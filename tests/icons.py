"""Draws the PNG icons the site publishes beside ``static/icon.svg``, with Pillow.

The icons are committed under ``templates/static/`` (``favicon.ico`` holding
PNG images of 16, 32 and 48 px, ``apple-touch-icon.png`` of 180 px), so a
build needs no image library; ``tests/test_icons.py`` checks they are these
drawings.  After changing the design (here and in ``site.ICON_SVG``), run
``.venv/bin/python tests/icons.py`` and commit the files.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parents[1] / "templates" / "static"
FAVICON_SIZES = (16, 32, 48)
TOUCH_SIZE = 180  # what iOS asks for; it rounds the corners itself
ACCENT = (0x8B, 0x1A, 0x1A, 255)
WHITE = (255, 255, 255, 255)
# The white strokes of site.ICON_SVG in its 64-unit square: the masthead, a photo, three lines of text.
STROKES = ((14, 14, 50, 20), (14, 26, 30, 50), (34, 26, 50, 30), (34, 36, 50, 40), (34, 46, 50, 50))
SUPERSAMPLE = 8  # drawn large and scaled down, so the edges are smooth


def draw(size: int, rounded: bool = True) -> Image.Image:
    """The icon at ``size`` pixels square; ``rounded`` corners as in the SVG (iOS rounds its own)."""
    big = size * SUPERSAMPLE
    unit = big / 64
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=round(10 * unit) if rounded else 0, fill=ACCENT)
    for left, top, right, bottom in STROKES:
        pen.rectangle(
            (round(left * unit), round(top * unit), round(right * unit) - 1, round(bottom * unit) - 1),
            fill=WHITE,
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write ``favicon.ico`` and ``apple-touch-icon.png`` into ``templates/static``."""
    largest = draw(max(FAVICON_SIZES))
    # Pillow stores each size of an ICO as a PNG image, which every browser since IE 11 reads.
    largest.save(
        STATIC / "favicon.ico",
        format="ICO",
        sizes=[(s, s) for s in FAVICON_SIZES],
        append_images=[draw(s) for s in FAVICON_SIZES],
    )
    draw(TOUCH_SIZE, rounded=False).convert("RGB").save(STATIC / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
