"""What every printed document (letters, receipts) shares: font and styles."""

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

# One of the CID fonts every PDF reader carries: no font file to ship, and
# the Chinese text stays extractable for copying and for the tests.
FONT = "STSong-Light"


def cjk_font() -> str:
    """Register (once) and name the font our PDFs draw Chinese text in."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def pdf_styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of Liudong's printed documents."""
    font = cjk_font()
    body = ParagraphStyle(
        "body", fontName=font, fontSize=11, leading=17, wordWrap="CJK"
    )
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontSize=18, leading=26, alignment=1
        ),
        "heading": ParagraphStyle(
            "heading", parent=body, fontSize=14, leading=20, alignment=1
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=9, leading=13),
        "void": ParagraphStyle(
            "void", parent=body, fontSize=13, textColor=colors.red, alignment=1
        ),
    }


def escape_markup(text: str) -> str:
    # Paragraph reads a small markup language; names are data, not markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
