"""HTML to PDF for letters and reports, with fpdf2 (pure Python: it installs from PyPI alone, no system library).

fpdf2's HTML covers what a letter needs: paragraphs and line breaks, headings h1-h6, bold, italic, underline,
links, ordered and unordered lists, tables (with `border`, `width`, header rows), horizontal rules, block
quotes and `<font color size>`; CSS is not read, and a `<style>`, `<script>` or `<head>` is not printed
(`docs/templates.md`, Letters and reports). Text is set in
DejaVu Sans (bundled in `renderer/fonts/`, its license beside it), which covers Italian, French, German,
Polish and the rest of Latin, Greek and Cyrillic.

Nothing outside the HTML is read: images only as `data:` URIs, never a file or a URL. It runs in a render
child (`renderer/child.py`), under its memory cap, killed by the pool past its time (`RenderPool.pdf`).
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "dejavu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
              "BI": "DejaVuSans-BoldOblique.ttf"}
FONT_SIZE = 11
MAX_PAGES = 200
logging.getLogger("fpdf").setLevel(logging.ERROR)  # its notes on tags it leaves out are no one's business


class PdfRefused(Exception):
    """The HTML cannot be made a PDF (the template's fault: the same HTML fails again)."""


# elements without an end tag, and those whose end tag HTML lets an author leave out (closed by what follows)
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
# what is not text to print: a stylesheet (CSS is not read), a script, the document's head
_NOT_PRINTED = re.compile(r"<(style|script|head)\b[^>]*>.*?</\1\s*>", re.I | re.S)


class _Checked(HTMLParser):
    """Every `<img src>` of the HTML, and the first end tag without its start (fpdf2 lays some of them out anyway,
    the text then set in the wrong style)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []
        self.open: list[str] = []
        self.stray: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:  # what is still open inside it (a <p> or an <li> left to close) closes with it
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
        elif tag not in _VOID and self.stray is None:
            self.stray = (tag, self.getpos()[0])


def _check(html: str) -> None:
    parser = _Checked()
    parser.feed(html)
    parser.close()
    for source in parser.sources:
        if not re.match(r"^data:image/(png|jpeg|gif);base64,", source.strip(), re.I):
            shown = source if len(source) < 60 else source[:57] + "..."
            raise PdfRefused(f"the image '{shown}' is not embedded: an image is a data: URI "
                             "(data:image/png;base64,...), never a file or a web address")
    if parser.stray is not None:
        tag, line = parser.stray
        raise PdfRefused(f"the end tag </{tag}> at line {line} has no start: is every tag closed, in order?")


def _refusal(exc: Exception) -> str:
    """What fpdf2's exception says of the HTML, in the author's terms."""
    said = re.sub(r" ?<[\w.]+ object at 0x[0-9a-f]+>", "", str(exc)).strip()
    if type(exc).__name__ == "UnidentifiedImageError" or "image" in said.lower():
        return "an image's data: URI does not hold a PNG, JPEG or GIF image that can be read"
    if "does not start with #" in said:
        return f"a color is written as #rrggbb (#c00000) or by its name (red): {said.split(' does not')[0]!r} is not"
    said = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
    return f"the HTML cannot be made a PDF ({said}): is every tag closed, in order?"


@lru_cache(maxsize=1)
def _styles() -> dict[str, object]:
    from fpdf import FontFace, TextStyle

    black = "#000000"
    sizes = {"h1": 20, "h2": 16, "h3": 13.5, "h4": 12, "h5": 11, "h6": 10}
    styles: dict[str, object] = {tag: TextStyle(font_family=FAMILY, font_style="B", font_size_pt=size, color=black,
                                                t_margin=4, b_margin=1.5) for tag, size in sizes.items()}
    styles.update(code=FontFace(family=FAMILY), pre=TextStyle(font_family=FAMILY, t_margin=2, b_margin=2),
                  blockquote=TextStyle(color="#333333", t_margin=3, b_margin=3, l_margin=10))
    return styles


def html_to_pdf(html: str, *, title: str = "", author: str = "") -> bytes:
    """The PDF of `html` (A4, DejaVu Sans 11 pt); `PdfRefused` when it cannot be made."""
    from fpdf import FPDF
    from fpdf.enums import ResourceAccessPolicy

    html = _NOT_PRINTED.sub("", html)
    _check(html)
    pdf = FPDF(format="A4")
    pdf.resource_access_policy = ResourceAccessPolicy.NONE  # no file, no URL: data: images only
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(20, 18, 20)
    for style, name in FONT_FILES.items():
        pdf.add_font(FAMILY, style, str(FONTS / name))
    pdf.set_font(FAMILY, size=FONT_SIZE)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("Stagecoach")
    pdf.add_page()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fpdf2 warns of tags it leaves out: the text is still written
            pdf.write_html(html, tag_styles=_styles(), li_prefix_color=(0, 0, 0))  # type: ignore[arg-type]
    except MemoryError:
        raise
    except Exception as exc:  # fpdf2 meets HTML it cannot lay out (a stray end tag, a bad image) in many ways
        raise PdfRefused(_refusal(exc)) from None
    if pdf.page > MAX_PAGES:
        raise PdfRefused(f"the PDF would have {pdf.page} pages; the limit is {MAX_PAGES}")
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()
