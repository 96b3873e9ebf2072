"""lxml.html's element classes, chosen in C instead of by a Python method.

lxml creates a Python object for an element each time code touches one, and an HTML parser
asks its class lookup which class that object gets. lxml.html's lookup
(``HtmlElementClassLookup``) is a Python method: the extractors touch elements about five
thousand times per page, and that method was 5-7 % of the extraction's CPU in a profile of
the 250 corpus pages. :func:`fast_lookup` gives the same classes (``HtmlElement``, the form
elements' own classes, ``HtmlComment``, ``HtmlProcessingInstruction``, ``HtmlEntity``) from
lxml's C lookups; :func:`use_fast_lookup` installs it on the parsers the extractors use. Tag
names need no lowercasing: libxml2's HTML parser stores them in lower case.
"""

from __future__ import annotations

import lxml.html
from lxml import etree


def fast_lookup() -> etree.ElementNamespaceClassLookup:
    """A C-level lookup giving the classes ``lxml.html.HtmlElementClassLookup`` gives."""
    lookup = etree.ElementNamespaceClassLookup(
        etree.ElementDefaultClassLookup(
            element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity,
        )
    )  # fmt: skip
    names = lookup.get_namespace(None)
    for (
        tag,
        cls,
    ) in (
        lxml.html.HtmlElementClassLookup._default_element_classes.items()
    ):  # the table lxml.html itself uses
        names[tag] = cls
    return lookup


def use_fast_lookup() -> None:
    """Install :func:`fast_lookup` on trafilatura's parser and lxml.html's default one
    (readability's output and our reading of it), in this process."""
    import trafilatura.utils

    lookup = fast_lookup()
    trafilatura.utils.HTML_PARSER.set_element_class_lookup(lookup)
    lxml.html.html_parser.set_element_class_lookup(lookup)
