"""Characters the stages refuse, named once: which controls a page, a document, a header or a URL
may not hold.  Each stage strips or rejects its own class; the classes share their parts, so
"control character" means the same thing in the parser, the feeds and the email headers.
"""

from __future__ import annotations

import re

# C0 controls other than tab, line feed and carriage return (which text legitimately holds).
_C0 = "\x00-\x08\x0b\x0c\x0e-\x1f"
_DEL = "\x7f"
_C1 = "\x80-\x9f"  # HTML parse errors; never newspaper text
_SURROGATES = "\ud800-\udfff"  # lone ones: a decoder's leftovers, unencodable as UTF-8
_NONCHARACTERS = "\ufffe\uffff"
# Invisible marks that OCR and editors leave in page text: zero-width space, the implicit bidi
# marks (LRM, RLM, and ALM, the Arabic letter mark, which sets a direction the same way), BOM.
_INVISIBLE = "\u200b\u200e\u200f\u061c\ufeff"
# Bidi embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI): Chinese
# text never needs them, and one left open in a headline turns round what follows it on the line, a
# listing's date or an email's subject ("Trojan Source", CVE-2021-42574).
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"

# Bytes that mark a misdecoded (binary) file: C0 controls and DEL.
BINARY_CONTROLS = re.compile(f"[{_C0}{_DEL}]")
# What XML 1.0 forbids (feedgen raises on it) plus C1: stripped from every published text field.
XML_UNSAFE = re.compile(f"[{_C0}{_DEL}{_C1}{_SURROGATES}{_NONCHARACTERS}]")
# What the parser drops from page text: the XML-unsafe characters, the invisible marks, bidi controls.
PAGE_JUNK = re.compile(f"[{_C0}{_DEL}{_C1}{_NONCHARACTERS}{_SURROGATES}{_INVISIBLE}{_BIDI_CONTROLS}]")
# What may not appear in an email header value: every control, line and paragraph separators.
HEADER_UNSAFE = re.compile(f"[\x00-\x1f{_DEL}{_C1}\u2028\u2029]")
# What may not appear in a URL we print into feeds and headers: controls, space, < and >.
URL_UNSAFE = re.compile(f"[\x00-\x20<>{_DEL}]")
