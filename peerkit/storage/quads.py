"""The semantic graph: documents <-> quads, under the Fat Link constraint (whitepaper, Framework).

    q = f(d, r)    to_quads(document, vocabulary)
    d = g(q, r)    from_quads(quads, vocabulary)

A quad is ``(subject, predicate, object, label)``: the subject is the document's ``@id`` (or a
blank node ``_:bN``), the predicate an IRI from the vocabulary, the label the root document's
subject (the named graph). An **object is never a subject**: it is a :class:`Literal`, or a
:class:`FatLink`, a record of metadata that *identifies* another subject (its id and type, and
whether the document embeds it). That is the Fat Link constraint; with it every quad set is a
DAG: :func:`check_fat_links` proves it for any quad set (each embedded subject has one parent,
no cycles), and :func:`quads_to_blocks` stores it as DAG-CBOR blocks.

Mapping rules (f):
- ``@id`` names a subject, ``@type`` gives an ``rdf:type`` quad; other keys expand through r;
- strings, integers, floats, booleans and null become typed literals;
- a nested object becomes its own subject, linked from its parent by an embedded FatLink;
  an object holding only ``@id`` is a reference: a FatLink that is not embedded;
- a list becomes one ``rdf:JSON`` literal (order kept); its nested objects become subjects,
  referenced from the list as ``{"@fatlink": id}``.
Blank nodes are numbered in traversal order (keys sorted), so f is deterministic and
``d == g(f(d, r), r)`` and ``q == f(g(q, r), r)`` hold (tested with hypothesis).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from ..blocks import CID, Block, decode, make_block
from ..bounds import MAX_DEPTH, clip, decode_within_c_stack, too_deep
from .errors import StorageError
from .vocab import RDF_TYPE, Vocabulary

XSD = "http://www.w3.org/2001/XMLSchema#"
STRING, INTEGER, DOUBLE, BOOLEAN = XSD + "string", XSD + "integer", XSD + "double", XSD + "boolean"
JSON_LIST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
NULL = "https://peerkit.dev/ns#null"
IRI = "https://peerkit.dev/ns#iri"  # an IRI-valued literal (the value of @type)
QUADS_TYPE = "peerkit/quads"
QUADS_PER_BLOCK = 2000


class FatLinkViolation(StorageError):
    code = "fat_link"


class DocumentError(StorageError):
    code = "document"


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # str | int | float | bool | None, or a JSON string for JSON_LIST
    datatype: str


@dataclass(frozen=True, slots=True)
class FatLink:
    """Identifying metadata of another subject, stored in place of a reference to it."""

    id: str
    type: str | None = None
    embedded: bool = True


class Quad(NamedTuple):
    subject: str
    predicate: str
    object: Literal | FatLink
    label: str


# --- f: document -> quads ------------------------------------------------------------------


def to_quads(doc: dict[str, Any], vocab: Vocabulary) -> list[Quad]:
    if not isinstance(doc, dict):
        raise DocumentError("a document is a JSON object (a dict)")
    if not set(doc) - {"@id"}:
        raise DocumentError("a document needs at least one property or @type to claim anything")
    counter = iter(range(1 << 62))
    root = _subject_of(doc, counter)
    out: list[Quad] = []
    seen: set[str] = set()
    _emit(doc, root, root, vocab, counter, out, seen)
    return out


def _subject_of(node: dict[str, Any], counter: Iterator[int]) -> str:
    sid = node.get("@id")
    if sid is None:
        return f"_:b{next(counter)}"
    if not isinstance(sid, str) or not sid or sid.startswith("_:"):
        raise DocumentError(f"@id must be a non-empty IRI string, not {sid!r}")
    return sid


def _emit(
    node: dict[str, Any],
    subject: str,
    label: str,
    vocab: Vocabulary,
    counter: Iterator[int],
    out: list[Quad],
    seen: set[str],
) -> None:
    if subject in seen:
        raise FatLinkViolation(f"{subject} is embedded twice: refer to it with {{'@id': ...}}")
    seen.add(subject)
    if "@type" in node:
        t = node["@type"]
        if not isinstance(t, str):
            raise DocumentError(f"@type of {subject} must be a string")
        out.append(Quad(subject, RDF_TYPE, Literal(vocab.iri(t), IRI), label))
    for key in sorted(node):
        if key in ("@id", "@type"):
            continue
        if key.startswith("@"):
            raise DocumentError(f"{key!r} is not supported in documents")
        predicate = vocab.iri(key)
        value = node[key]
        if isinstance(value, dict):
            obj: Literal | FatLink = _link(value, subject, label, vocab, counter, out, seen)
        elif isinstance(value, list):
            items = [_list_item(v, subject, label, vocab, counter, out, seen) for v in value]
            obj = Literal(json.dumps(items, sort_keys=True, separators=(",", ":")), JSON_LIST)
        else:
            obj = _literal(value, subject, key)
        out.append(Quad(subject, predicate, obj, label))


def _link(
    value: dict[str, Any],
    parent: str,
    label: str,
    vocab: Vocabulary,
    counter: Iterator[int],
    out: list[Quad],
    seen: set[str],
) -> FatLink:
    if set(value) == {"@id"}:
        return FatLink(_subject_of(value, counter), None, embedded=False)
    child = _subject_of(value, counter)
    t = value.get("@type")
    _emit(value, child, label, vocab, counter, out, seen)
    return FatLink(child, vocab.iri(t) if isinstance(t, str) else None, embedded=True)


def _list_item(
    v: Any,
    parent: str,
    label: str,
    vocab: Vocabulary,
    counter: Iterator[int],
    out: list[Quad],
    seen: set[str],
) -> Any:
    if isinstance(v, dict):
        link = _link(v, parent, label, vocab, counter, out, seen)
        return {"@fatlink": link.id, "embedded": link.embedded}
    if isinstance(v, list):
        return [_list_item(x, parent, label, vocab, counter, out, seen) for x in v]
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        raise DocumentError(f"{parent}: NaN and Infinity cannot be stored")
    if v is None or isinstance(v, str | int | float | bool):
        return v
    raise DocumentError(f"{parent}: a list holds a {type(v).__name__}")


def _literal(value: Any, subject: str, key: str) -> Literal:
    if value is None:
        return Literal(None, NULL)
    if isinstance(value, bool):
        return Literal(value, BOOLEAN)
    if isinstance(value, int):
        return Literal(value, INTEGER)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DocumentError(f"{subject} {key}: NaN and Infinity cannot be stored")
        return Literal(value, DOUBLE)
    if isinstance(value, str):
        return Literal(value, STRING)
    raise DocumentError(f"{subject} {key}: cannot store a {type(value).__name__}")


# --- g: quads -> document ------------------------------------------------------------------


def from_quads(quads: Iterable[Quad], vocab: Vocabulary, root: str | None = None) -> dict:
    quads = list(quads)
    check_fat_links(quads)
    by_subject: dict[str, list[Quad]] = defaultdict(list)
    for q in quads:
        by_subject[q.subject].append(q)
    if root is None:
        labels = {q.label for q in quads}
        if len(labels) != 1:
            raise DocumentError(f"quads name {len(labels)} documents; pass root=")
        root = labels.pop()
    if root not in by_subject:
        raise DocumentError(f"no quad has subject {root}")
    return _build(root, by_subject, vocab)


def _build(
    subject: str, by_subject: dict[str, list[Quad]], vocab: Vocabulary, depth: int = 0
) -> dict:
    if depth > MAX_DEPTH:  # embeddings are acyclic (checked), but a chain may be any length
        raise DocumentError(f"subjects are embedded deeper than {MAX_DEPTH} levels")
    doc: dict[str, Any] = {}
    if not subject.startswith("_:"):
        doc["@id"] = subject
    for q in by_subject.get(subject, []):
        if q.predicate == RDF_TYPE and isinstance(q.object, Literal) and q.object.datatype == IRI:
            doc["@type"] = vocab.term(q.object.value)
            continue
        key = vocab.term(q.predicate)
        doc[key] = _value(q.object, by_subject, vocab, depth)
    return doc


def _value(
    obj: Literal | FatLink, by_subject: dict[str, list[Quad]], vocab: Vocabulary, depth: int
) -> Any:
    if isinstance(obj, FatLink):
        return _build(obj.id, by_subject, vocab, depth + 1) if obj.embedded else {"@id": obj.id}
    if obj.datatype == JSON_LIST:
        return _unlist(read_json_list(obj.value), by_subject, vocab, depth)
    return obj.value


def read_json_list(value: str) -> Any:
    """A JSON list literal's items (DocumentError unless JSON nested at most MAX_DEPTH levels).
    The text may come from outside (N-Quads, another peer's blocks), and the JSON reader
    recurses in C: it reads under the C-stack-safe recursion limit (peerkit/bounds.py)."""
    deep = DocumentError(f"a JSON list literal nests deeper than {MAX_DEPTH} levels")
    try:
        items = decode_within_c_stack(json.loads, value)
    except ValueError as exc:
        raise DocumentError(f"a JSON list literal is not JSON: {exc}") from None
    except RecursionError:
        raise deep from None
    if too_deep(items):
        raise deep
    return items


def _unlist(items: Any, by_subject: dict[str, list[Quad]], vocab: Vocabulary, depth: int) -> Any:
    if isinstance(items, list):
        return [_unlist(v, by_subject, vocab, depth) for v in items]
    if isinstance(items, dict) and "@fatlink" in items:
        if not isinstance(items["@fatlink"], str):
            raise DocumentError("a fat link in a JSON list literal names no subject")
        link = FatLink(items["@fatlink"], None, bool(items.get("embedded", True)))
        return _value(link, by_subject, vocab, depth)
    return items


# --- the Fat Link constraint -----------------------------------------------------------------


def check_fat_links(quads: Iterable[Quad]) -> None:
    """Raise FatLinkViolation unless the quads form a DAG under the Fat Link constraint:
    objects are literals or fat links, each embedded subject has exactly one embedding parent,
    and following embeddings never returns to a subject already on the path."""
    children: dict[str, set[str]] = defaultdict(set)
    parents: dict[str, str] = {}
    for q in quads:
        if not isinstance(q.object, Literal | FatLink):
            raise FatLinkViolation(
                f"object of {q.subject} {q.predicate} is not a literal or a fat"
                " link: objects may not refer to subjects directly"
            )
        for child in _embedded(q.object):
            if child == q.subject:
                raise FatLinkViolation(f"{q.subject} embeds itself")
            if parents.get(child, q.subject) != q.subject:
                raise FatLinkViolation(
                    f"{child} is embedded by both {parents[child]} and {q.subject}"
                )
            parents[child] = q.subject
            children[q.subject].add(child)
    state: dict[str, int] = {}
    for start in list(children):
        stack = [(start, iter(sorted(children[start])))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise FatLinkViolation(f"embedding cycle through {nxt}")
            elif state.get(nxt) is None:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(children.get(nxt, ())))))


def _embedded(obj: Literal | FatLink) -> list[str]:
    if isinstance(obj, FatLink):
        return [obj.id] if obj.embedded else []
    if obj.datatype == JSON_LIST:
        out: list[str] = []
        _collect_links(read_json_list(obj.value), out)
        return out
    return []


def _collect_links(items: Any, out: list[str]) -> None:
    if isinstance(items, list):
        for v in items:
            _collect_links(v, out)
    elif isinstance(items, dict) and "@fatlink" in items and items.get("embedded", True):
        if not isinstance(items["@fatlink"], str):
            raise DocumentError("a fat link in a JSON list literal names no subject")
        out.append(items["@fatlink"])


# --- storage as DAG blocks, and pattern queries ----------------------------------------------


def encode_object(obj: Literal | FatLink) -> list[Any]:
    if isinstance(obj, FatLink):
        return ["link", obj.id, obj.type, obj.embedded]
    return ["lit", obj.value, obj.datatype]


def decode_object(raw: list[Any]) -> Literal | FatLink:
    """An object as :func:`encode_object` wrote it; StorageError for anything else (it may
    come from a peer: a query, or a quad set's blocks)."""
    kind = raw[0] if raw else None
    if kind == "link" and len(raw) == 4 and _is_link(raw[1], raw[2]):
        return FatLink(raw[1], raw[2], bool(raw[3]))
    if kind == "lit" and len(raw) == 3 and _is_literal(raw[1], raw[2]):
        return Literal(raw[1], raw[2])
    raise StorageError(f"not a quad object: {clip(raw)}")


def _is_link(subject: Any, type_: Any) -> bool:
    return isinstance(subject, str) and (type_ is None or isinstance(type_, str))


def _is_literal(value: Any, datatype: Any) -> bool:
    fits = _LITERAL_VALUES.get(datatype) if isinstance(datatype, str) else None
    return fits is not None and fits(value)


#: what a literal of each datatype holds, as _literal and the N-Quads reader make them (a
#: double with an integral value is stored as an integer: peerkit's DAG-CBOR float rule)
_LITERAL_VALUES: dict[str, Callable[[Any], bool]] = {
    STRING: lambda v: isinstance(v, str),
    JSON_LIST: lambda v: isinstance(v, str),
    IRI: lambda v: isinstance(v, str),
    INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    DOUBLE: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    BOOLEAN: lambda v: isinstance(v, bool),
    NULL: lambda v: v is None,
}


def quads_to_blocks(quads: list[Quad], vocab: Vocabulary) -> tuple[Block, list[Block]]:
    """Store a quad set as DAG-CBOR: chunks of quads under one root block (sorted: the same
    set always gives the same root CID)."""
    check_fat_links(quads)
    rows = sorted([q.subject, q.predicate, encode_object(q.object), q.label] for q in quads)
    chunks = [
        make_block(rows[i : i + QUADS_PER_BLOCK]) for i in range(0, len(rows), QUADS_PER_BLOCK)
    ]
    labels = sorted({q.label for q in quads})
    root = make_block(
        {
            "type": QUADS_TYPE,
            "vocab": vocab.name,
            "labels": labels,
            "count": len(rows),
            "chunks": [c.cid for c in chunks],
        }
    )
    return root, chunks


def quads_from_blocks(root: Any, get: Any) -> list[Quad]:
    """The quads of a stored set; ``root`` is the decoded root, ``get(cid)`` returns bytes."""
    chunks = root.get("chunks") if isinstance(root, dict) else None
    if (
        not isinstance(root, dict)
        or root.get("type") != QUADS_TYPE
        or not isinstance(root.get("vocab"), str)
        or not isinstance(chunks, list)
        or not all(isinstance(cid, CID) for cid in chunks)
    ):
        raise StorageError("that CID is not a quad set")
    out = []
    for cid in chunks:
        try:  # blocks fetched from another peer are checked like any outside input
            rows = msgspec.convert(decode(get(cid)), _Rows)
        except msgspec.ValidationError as exc:
            raise StorageError(f"a chunk of the quad set is not a list of quads: {exc}") from None
        for s, p, o, label in rows:
            out.append(Quad(s, p, decode_object(o), label))
    return out


#: a chunk of a stored quad set: [subject, predicate, object, label] rows
_Rows = list[tuple[str, str, list[Any], str]]


class QuadIndex:
    """An in-memory index answering any pattern of (subject, predicate, object, label)."""

    def __init__(self) -> None:
        self._quads: set[Quad] = set()
        self._by: dict[int, dict[Any, set[Quad]]] = {i: defaultdict(set) for i in range(4)}

    def add(self, quads: Iterable[Quad]) -> None:
        for q in quads:
            if q not in self._quads:
                self._quads.add(q)
                for i in range(4):
                    self._by[i][q[i]].add(q)

    def remove_label(self, label: str) -> None:
        for q in list(self._by[3].get(label, ())):
            self._quads.discard(q)
            for i in range(4):
                self._by[i][q[i]].discard(q)

    def match(
        self,
        subject: str | None = None,
        predicate: str | None = None,
        object: Literal | FatLink | None = None,
        label: str | None = None,
    ) -> list[Quad]:
        pattern = (subject, predicate, object, label)
        bound = [(i, v) for i, v in enumerate(pattern) if v is not None]
        if not bound:
            return sorted(self._quads, key=_sort_key)
        candidates = min((self._by[i].get(v, set()) for i, v in bound), key=len)
        return sorted((q for q in candidates if all(q[i] == v for i, v in bound)), key=_sort_key)

    def __len__(self) -> int:
        return len(self._quads)


def _sort_key(q: Quad) -> tuple[str, str, str, str]:
    return (q.label, q.subject, q.predicate, repr(q.object))
