import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerkit.blocks import decode
from peerkit.storage.quads import (
    FatLink,
    FatLinkViolation,
    Literal,
    Quad,
    QuadIndex,
    check_fat_links,
    from_quads,
    quads_from_blocks,
    quads_to_blocks,
    to_quads,
)
from peerkit.storage.vocab import SCHEMA_ORG, Vocabulary, VocabularyError, register_vocabulary

R = SCHEMA_ORG
PROPS = ["name", "headline", "text", "keywords", "author", "about", "hasPart", "position"]
TYPES = ["Article", "Person", "Thing", "ImageObject"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False)
)


def documents(depth=2):
    if depth == 0:
        values = scalars | st.lists(scalars, max_size=3)
    else:
        child = documents(depth - 1)
        values = (
            scalars
            | child
            | st.lists(scalars | child, max_size=3)
            | st.builds(lambda n: {"@id": f"urn:ref:{n}"}, st.integers(0, 5))
        )
    return st.builds(
        lambda props, t: {**props, **({"@type": t} if t else {})},
        st.dictionaries(st.sampled_from(PROPS), values, max_size=4),
        st.none() | st.sampled_from(TYPES),
    )


roots = st.builds(
    lambda d, rid: {**d, **({"@id": rid} if rid else {})},
    documents().filter(bool),  # an empty document claims nothing and is refused
    st.none() | st.just("urn:doc:root"),
)


@settings(max_examples=200, deadline=None)
@given(roots)
def test_d_equals_g_of_f_of_d(d):
    assert from_quads(to_quads(d, R), R) == d


@settings(max_examples=200, deadline=None)
@given(roots)
def test_q_equals_f_of_g_of_q(d):
    q = to_quads(d, R)
    assert to_quads(from_quads(q, R), R) == q


@settings(max_examples=100, deadline=None)
@given(roots)
def test_every_quad_set_from_f_is_a_dag_and_stores_as_blocks(d):
    q = to_quads(d, R)
    check_fat_links(q)
    root, chunks = quads_to_blocks(q, R)
    data = {c.cid.cid_bytes: c.data for c in chunks}
    back = quads_from_blocks(decode(root.data), lambda cid: data[cid.cid_bytes])
    assert sorted(back) == sorted(q)


def test_objects_never_refer_to_subjects():
    d = {"@id": "urn:a", "name": "A", "author": {"name": "B"}}
    q = to_quads(d, R)
    subjects = {x.subject for x in q}
    for x in q:
        assert isinstance(x.object, Literal | FatLink)
        assert not (isinstance(x.object, Literal) and x.object.value in subjects)


def test_cycles_and_double_embedding_are_violations():
    a = Quad("urn:a", R.iri("hasPart"), FatLink("urn:b"), "urn:a")
    b = Quad("urn:b", R.iri("hasPart"), FatLink("urn:a"), "urn:a")
    with pytest.raises(FatLinkViolation, match="cycle"):
        check_fat_links([a, b])
    c = Quad("urn:c", R.iri("hasPart"), FatLink("urn:b"), "urn:a")
    with pytest.raises(FatLinkViolation, match="embedded by both"):
        check_fat_links([a, c])
    with pytest.raises(FatLinkViolation, match="itself"):
        check_fat_links([Quad("urn:a", R.iri("about"), FatLink("urn:a"), "urn:a")])
    with pytest.raises(FatLinkViolation):
        check_fat_links([Quad("urn:a", R.iri("about"), "urn:b", "urn:a")])  # type: ignore[arg-type]


def test_a_reference_is_a_fat_link_that_is_not_embedded():
    q = to_quads({"@id": "urn:a", "about": {"@id": "urn:a"}}, R)  # self-reference: fine
    check_fat_links(q)
    assert q[0].object == FatLink("urn:a", None, embedded=False)


def test_the_same_subject_embedded_twice_is_refused():
    part = {"@id": "urn:p", "name": "x"}
    with pytest.raises(FatLinkViolation, match="embedded twice"):
        to_quads({"hasPart": [part, part]}, R)


def test_an_empty_document_is_refused():
    from peerkit.storage.quads import DocumentError

    with pytest.raises(DocumentError):
        to_quads({"@id": "urn:x"}, R)


def test_unknown_terms_name_the_key():
    with pytest.raises(VocabularyError, match="'colour'"):
        to_quads({"colour": "red"}, R)
    assert to_quads({"schema:color": "red"}, R)[0].predicate == "https://schema.org/color"


def test_apps_register_their_own_vocabulary():
    mine = Vocabulary(
        "mail3000",
        "https://example.org/mail#",
        {"subject": "https://example.org/mail#subject", "Mail": "https://example.org/mail#Mail"},
    )
    register_vocabulary(mine)
    d = {"@type": "Mail", "subject": "hi"}
    assert from_quads(to_quads(d, mine), mine) == d


def test_pattern_queries():
    idx = QuadIndex()
    idx.add(to_quads({"@id": "urn:a", "name": "A", "author": {"name": "Al"}}, R))
    idx.add(to_quads({"@id": "urn:b", "name": "B"}, R))
    name = R.iri("name")
    assert {q.subject for q in idx.match(predicate=name)} == {"urn:a", "urn:b", "_:b0"}
    assert [q.object.value for q in idx.match(subject="urn:b")] == ["B"]
    assert len(idx.match(label="urn:a")) == 3
    assert (
        idx.match(object=Literal("B", "http://www.w3.org/2001/XMLSchema#string"))[0].subject
        == "urn:b"
    )
    idx.remove_label("urn:a")
    assert len(idx) == 1


# A quad set's blocks may come from another peer (fetched into the store): whatever they
# hold, reading them gives quads or a typed StorageError, never another exception.
_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
_INT = "http://www.w3.org/2001/XMLSchema#integer"


def _foreign(rows, **root):
    from peerkit.blocks import make_block

    chunk = make_block(rows)
    top = {"type": "peerkit/quads", "vocab": "schema.org", "chunks": [chunk.cid], **root}
    return decode(make_block(top).data), {chunk.cid.cid_bytes: chunk.data}


def _embedding_chain(n):
    return [
        [f"_:s{i}", "http://schema.org/p", ["link", f"_:s{i + 1}", None, True], "g"]
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "rows, root, error",
    [
        ([["s", "p", ["lit", "[" * 5_000, _JSON], "s"]], {}, "JSON list literal nests"),
        ([["s", "p", ["lit", "[[" * 60 + "]]" * 60, _JSON], "s"]], {}, "JSON list literal nests"),
        ([["s", "p", ["lit", 5, _JSON], "s"]], {}, "not a quad object"),
        ([["s", "p", ["lit", "x", 5], "s"]], {}, "not a quad object"),
        ([["s", "p", ["lit", "x", "urn:unknown-datatype"], "s"]], {}, "not a quad object"),
        ([["s", "p", ["lit", {"a": 1}, _INT], "s"]], {}, "not a quad object"),
        ([["s", "p", ["lit", True, _INT], "s"]], {}, "not a quad object"),
        ([["s", "p", ["lit", "[1,", _JSON], "s"]], {}, "is not JSON"),
        ([["s", "p", ["link", 5, None, True], "s"]], {}, "not a quad object"),
        ([["s", "p", ["lit", '[{"@fatlink": 5}]', _JSON], "s"]], {}, "names no subject"),
        ([["s", "p"]], {}, "not a list of quads"),
        ([[1, "p", ["lit", "x", "y"], "s"]], {}, "not a list of quads"),
        ("not rows", {}, "not a list of quads"),
        ([], {"chunks": ["not a cid"]}, "not a quad set"),
        ([], {"vocab": None}, "not a quad set"),
        (
            [*_embedding_chain(150), ["_:s150", "http://schema.org/p", ["lit", 1, _INT], "g"]],
            {},
            "embedded deeper than 100",
        ),
    ],
)
def test_a_foreign_quad_set_gives_quads_or_a_typed_error(rows, root, error):
    from peerkit.storage.errors import StorageError

    top, blocks = _foreign(rows, **root)
    with pytest.raises(StorageError, match=error):
        quads = quads_from_blocks(top, lambda cid: blocks[cid.cid_bytes])
        from_quads(quads, SCHEMA_ORG, root="_:s0" if "_:s0" in str(rows) else None)
