"""Showing text the app did not write: Markdown escaping for Streamlit, HTML escaping for plotly.

Streamlit renders the strings given to ``st.markdown``, ``st.caption``, ``st.write``, ``st.error`` (and the other
alerts), headers, and the labels of buttons, expanders and status boxes as GitHub-flavoured Markdown with
Streamlit's directives (``:red[...]``, ``:material/...:``) and maths (``$...$``). A data cell such as
``![t](http://host/x.png)`` would become an image the browser fetches. :func:`md` makes any text render as
itself; every file name, cell value, office or region name, scenario name or description and error message that
quotes user data goes through it before it is shown. Tables
(``st.dataframe``), ``st.text``, ``st.code`` and ``st.json`` show their data as text and need nothing.

plotly renders a subset of HTML (``<a href>``, ``<b>``, ``<br>``) in hover text, legends and category labels:
:func:`plot_frame` escapes ``&``, ``<`` and ``>`` in the text columns a figure shows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

# Characters that start inline Markdown anywhere in a line: escapes, code, emphasis, links and images, raw HTML
# and entities, strikethrough, maths, Streamlit directives and emoji codes, table cells, e-mail autolinks.
_INLINE = re.compile(r"([\\`*_\[\]<>!&~$:|@])")
# What starts a block only at the start of a line: headings, list items, setext underlines, ordered lists.
_BLOCK_START = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))")
# GFM turns bare URLs and e-mail addresses into links after parsing (escapes do not stop it): a zero-width word
# joiner after "http:", "https:", "www" and "@" breaks them without changing what is shown.
_AUTOLINK = re.compile(r"(?i)(https?\\:|www(?=\\?\.)|\\@)")
_JOINER = "\u2060"
_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")


def md(value: Any) -> str:
    """``value`` as text that Streamlit's Markdown shows literally, on one line.

    Backslash-escapes every character that could start a Markdown, HTML or Streamlit construct (CommonMark
    allows a backslash before any ASCII punctuation), puts an invisible word joiner (U+2060) into bare URLs and
    e-mail addresses so they do not become links, and turns line breaks into spaces, so the text can be put
    inside a message, a list item or a label.
    """
    text = _BREAKS.sub(" ", str(value))
    text = _INLINE.sub(r"\\\1", text)
    text = _AUTOLINK.sub(lambda m: m.group(1) + _JOINER, text)

    def _start(m: re.Match[str]) -> str:
        if m.group(2):
            return f"{m.group(1)}\\{m.group(2)}"
        return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"

    return _BLOCK_START.sub(_start, text, count=1)


def plot_text(value: Any) -> Any:
    """A text value with ``&``, ``<`` and ``>`` escaped for plotly's HTML labels (other values unchanged)."""
    return html.escape(value, quote=False) if isinstance(value, str) else value


def plot_frame(frame: pd.DataFrame, columns: Iterable[str | None]) -> pd.DataFrame:
    """A copy of ``frame`` whose text ``columns`` (those present; None skipped) are escaped for plotly."""
    out = frame.copy()
    for col in dict.fromkeys(c for c in columns if c is not None and c in out.columns):
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(plot_text)
    return out
