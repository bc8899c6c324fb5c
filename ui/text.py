"""Text from outside (the URL, files, STAC, the index, error messages) as inert page text.

Streamlit renders ``st.markdown``, ``st.caption``, ``st.info``/``warning``/``error``/``success``
and widget labels as Markdown: links, images (a request to any host), ``:red[...]`` directives,
``$...$`` maths. The app never passes ``unsafe_allow_html``, so raw HTML is not rendered, but
Markdown still is. ``md(text)`` backslash-escapes every ASCII punctuation character (CommonMark
allows that for all of them), so outside text shows exactly as typed and builds nothing.

In Leaflet, folium puts popup and tooltip HTML inside JavaScript template literals, where
``${...}`` runs as code and a backtick ends the string; ``html.escape`` alone stops neither.
``html_text(text)`` also turns backticks, dollar signs and backslashes into character
references, which show the same in the page and mean nothing to JavaScript.

Folium (through branca) compiles each rendered piece of a map again as a Jinja template: a
``{{ '`` in a popup breaks the page, and where a whole map is rendered at once ``{{ ... }}``
*runs on the server* (it can reach Python's ``os`` module). ``html_text`` turns braces into
character references too, and nothing from outside reaches folium except through it.

In CSV exports, cells that a spreadsheet would run as a formula are defused
(``closp_core/search/export.py``).
"""

from __future__ import annotations

import html
import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def md(text: object) -> str:
    """``text`` escaped for Markdown: every ASCII punctuation character backslash-escaped and
    line breaks flattened to spaces (a line break could start a heading or a list)."""
    flat = " ".join(str(text).splitlines())
    return _PUNCTUATION.sub(r"\\\1", flat)


def md_code(text: object) -> str:
    """``text`` as an inline code span that no backtick inside it can close."""
    flat = " ".join(str(text).splitlines())
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


_INERT = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"})


def html_text(text: object) -> str:
    """``text`` as HTML text that is also inert inside a JavaScript template literal and in a
    Jinja template (folium's)."""
    return html.escape(str(text)).translate(_INERT)
