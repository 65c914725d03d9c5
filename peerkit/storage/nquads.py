"""Quad sets as N-Quads text (W3C RDF 1.1 N-Quads), for other RDF tools.

Export writes the RDF view of a quad set: a Fat Link becomes the linked subject's IRI or blank
node, an ``rdf:type`` becomes an IRI, literals carry their XSD datatype (lists are ``rdf:JSON``
literals, null is ``peerkit:null``). Import reads it back into quads, rebuilding each Fat Link's
metadata from the graph: a link to a subject described in the same graph, or to a blank node,
embeds it (with that subject's type); a link to any other IRI is a reference. Blank node labels
inside ``rdf:JSON`` list literals are peerkit's own: a tool that relabels blank nodes (most
do) breaks those links, so lists of nested objects survive only a peerkit round trip. A
document that refers by ``@id`` to a subject it also embeds cannot be told apart after export;
importing it fails the Fat Link check with a clear error rather than storing something else.

Errors name the line: ``NQuadsError("line 3: ...")``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import StorageError
from .quads import (
    BOOLEAN,
    DOUBLE,
    INTEGER,
    IRI,
    JSON_LIST,
    NULL,
    STRING,
    DocumentError,
    FatLink,
    Literal,
    Quad,
    check_fat_links,
    read_json_list,
)
from .vocab import RDF_TYPE


class NQuadsError(StorageError):
    code = "nquads"


# --- writing --------------------------------------------------------------------------------

_IRI_UNSAFE = re.compile(r'[\x00-\x20<>"{}|^`\\]')
# As canonical N-Quads: ECHARs for these, \uXXXX for other control characters
_ECHAR = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _node(term: str) -> str:
    if term.startswith("_:"):
        return term
    return "<" + _IRI_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04X}", term) + ">"


def _literal(lit: Literal) -> str:
    if lit.datatype == IRI:
        return _node(str(lit.value))
    if lit.datatype == BOOLEAN:
        lexical = "true" if lit.value else "false"
    elif lit.datatype == NULL:
        lexical = "null"
    elif lit.datatype == DOUBLE:
        lexical = repr(float(lit.value))  # Python's shortest round-tripping form
    else:
        lexical = str(lit.value)
    text = "".join(_ECHAR.get(c, c) for c in lexical)
    text = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04X}", text)
    if lit.datatype == STRING:
        return f'"{text}"'  # RDF 1.1: a simple literal is an xsd:string
    return f'"{text}"^^{_node(lit.datatype)}'


def to_nquads(quads: Iterable[Quad]) -> str:
    """N-Quads text, one line per quad, sorted (the same set always gives the same text)."""
    lines = []
    for q in quads:
        obj = _node(q.object.id) if isinstance(q.object, FatLink) else _literal(q.object)
        lines.append(f"{_node(q.subject)} {_node(q.predicate)} {obj} {_node(q.label)} .")
    return "".join(line + "\n" for line in sorted(lines))


# --- reading --------------------------------------------------------------------------------

_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_IRIREF = rf"<((?:[^\x00-\x20<>\"{{}}|^`\\]|{_UCHAR})*)>"
_BNODE = r"(_:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?)"
_STRING = rf'"((?:[^"\\\n\r]|\\[tbnrf"\'\\]|{_UCHAR})*)"'
_LANG = r"@([A-Za-z]+(?:-[A-Za-z0-9]+)*)"
_TERM = re.compile(rf"\s*(?:{_IRIREF}|{_BNODE}|{_STRING}(?:\^\^{_IRIREF}|{_LANG})?)")
_END = re.compile(r"\s*\.\s*(?:#.*)?$")
_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        if s[1] in "uU":
            return chr(int(s[2:], 16))
        return _ESCAPES[s[1]]

    return re.sub(rf"\\[tbnrf\"'\\]|{_UCHAR}", repl, text)


def _parse_line(line: str, number: int) -> tuple[str, str, tuple[str, ...], str] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    pos = 0
    terms: list[tuple[str, ...]] = []
    for _ in range(4):
        m = _TERM.match(line, pos)
        if m is None or m.end() == pos or not m.group(0).strip():
            break
        iri, bnode, lexical, datatype, lang = m.groups()
        if iri is not None:
            terms.append(("iri", _unescape(iri)))
        elif bnode is not None:
            terms.append(("bnode", bnode))
        else:
            if lang is not None:
                raise NQuadsError(
                    f"line {number}: language-tagged literals (@{lang}) are not stored by peerkit"
                )
            dt = _unescape(datatype) if datatype is not None else STRING
            terms.append(("literal", _unescape(lexical), dt))
        pos = m.end()
    if not _END.match(line, pos):
        raise NQuadsError(f"line {number}: expected subject, predicate, object, graph and '.'")
    if len(terms) == 3:
        raise NQuadsError(
            f"line {number}: a triple without a graph label; peerkit stores named graphs"
            " (label each quad with its document's root)"
        )
    if len(terms) != 4:
        raise NQuadsError(f"line {number}: expected subject, predicate, object, graph and '.'")
    (skind, *s), (pkind, *p), obj, (gkind, *g) = terms
    if skind == "literal" or gkind == "literal":
        raise NQuadsError(f"line {number}: subjects and graph labels are IRIs or blank nodes")
    if pkind != "iri":
        raise NQuadsError(f"line {number}: a predicate is an IRI")
    return s[0], p[0], obj, g[0]


def _to_literal(lexical: str, datatype: str, number: int) -> Literal:
    try:
        if datatype in (STRING, JSON_LIST):
            if datatype == JSON_LIST:
                read_json_list(lexical)
            return Literal(lexical, datatype)
        if datatype == INTEGER:
            return Literal(int(lexical), INTEGER)
        if datatype == DOUBLE:
            value = float(lexical)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError("NaN and Infinity cannot be stored")
            return Literal(value, DOUBLE)
        if datatype == BOOLEAN:
            if lexical not in ("true", "false", "1", "0"):
                raise ValueError(f"{lexical!r} is not a boolean")
            return Literal(lexical in ("true", "1"), BOOLEAN)
        if datatype == NULL:
            return Literal(None, NULL)
    except (ValueError, DocumentError) as exc:
        raise NQuadsError(f"line {number}: {exc}") from None
    raise NQuadsError(
        f"line {number}: datatype <{datatype}> is not one peerkit stores",
        hint="use xsd:string, xsd:integer, xsd:double, xsd:boolean or rdf:JSON",
    )


def from_nquads(text: str) -> list[Quad]:
    """Quads from N-Quads text, Fat Links rebuilt from the graph; checked as a DAG."""
    rows = []
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), 1):  # N-Quads' line ends only
        parsed = _parse_line(line, number)
        if parsed is not None:
            rows.append((number, *parsed))
    subjects = {(label, s) for _, s, _, _, label in rows}
    types = {
        (label, s): o[1] for _, s, p, o, label in rows if p == RDF_TYPE and o[0] in ("iri", "bnode")
    }
    quads = []
    for number, s, p, obj, label in rows:
        kind = obj[0]
        if kind == "literal":
            value: Literal | FatLink = _to_literal(obj[1], obj[2], number)
        elif p == RDF_TYPE:
            value = Literal(obj[1], IRI)
        else:
            target = obj[1]
            # a blank node cannot be referred to by @id, so a link to one embeds it (even one
            # with no properties, which has no line of its own)
            embedded = (label, target) in subjects or target.startswith("_:")
            value = FatLink(target, types.get((label, target)) if embedded else None, embedded)
        quads.append(Quad(s, p, value, label))
    check_fat_links(quads)
    return quads
