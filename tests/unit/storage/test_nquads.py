"""N-Quads export and import, checked against rdflib (an independent RDF implementation)."""

import pytest
import rdflib
from hypothesis import given, settings
from rdflib.compare import isomorphic

from peerkit.storage.nquads import NQuadsError, from_nquads, to_nquads
from peerkit.storage.quads import from_quads, to_quads
from peerkit.storage.vocab import SCHEMA_ORG
from tests.unit.storage.test_quads import roots

DOC = {
    "@id": "urn:doc:1",
    "@type": "Article",
    "headline": 'Hé "quoted"\nline\\',
    "author": {"@type": "Person", "name": "Ann 😀"},
    "about": {"@id": "urn:ref:2"},
    "keywords": ["a", {"name": "x"}],
    "position": 1.5,
    "text": None,
    "name": True,
    "hasPart": {"position": -3},
}


@settings(max_examples=200, deadline=None)
@given(roots)
def test_export_then_import_gives_the_same_quads(d):
    quads = to_quads(d, SCHEMA_ORG)
    assert sorted(from_nquads(to_nquads(quads))) == sorted(quads)


def test_documents_survive_the_trip():
    text = to_nquads(to_quads(DOC, SCHEMA_ORG))
    assert from_quads(from_nquads(text), SCHEMA_ORG) == DOC
    assert text == to_nquads(from_nquads(text))  # one text per quad set


def test_rdflib_reads_our_n_quads():
    quads = to_quads(DOC, SCHEMA_ORG)
    ds = rdflib.Dataset()
    ds.parse(data=to_nquads(quads), format="nquads")
    seen = list(ds.quads((None, None, None, None)))
    assert len(seen) == len(quads)
    values = {(str(s), str(p)): o for s, p, o, _ in seen if isinstance(o, rdflib.Literal)}
    assert values[("urn:doc:1", "https://schema.org/headline")].toPython() == DOC["headline"]
    assert values[("urn:doc:1", "https://schema.org/position")].toPython() == 1.5
    assert values[("urn:doc:1", "https://schema.org/name")].toPython() is True
    types = {str(o) for _, p, o, _ in seen if p == rdflib.RDF.type}
    assert types == {"https://schema.org/Article", "https://schema.org/Person"}


def test_we_read_what_rdflib_writes():
    g = rdflib.URIRef("urn:doc:9")
    ds = rdflib.Dataset()
    graph = ds.graph(g)
    author = rdflib.BNode()
    schema = rdflib.Namespace("https://schema.org/")
    graph.add((g, rdflib.RDF.type, schema.Article))
    graph.add((g, schema.headline, rdflib.Literal('say "hi"\tnow')))
    graph.add((g, schema.position, rdflib.Literal(7)))
    graph.add((g, schema.author, author))
    graph.add((author, schema.name, rdflib.Literal("Bo")))
    graph.add((g, schema.about, rdflib.URIRef("urn:elsewhere")))
    written = ds.serialize(format="nquads")
    quads = from_nquads(written)
    doc = from_quads(quads, SCHEMA_ORG)
    assert doc["headline"] == 'say "hi"\tnow' and doc["position"] == 7
    assert doc["author"]["name"] == "Bo" and doc["about"] == {"@id": "urn:elsewhere"}
    again = rdflib.Dataset()
    again.parse(data=to_nquads(quads), format="nquads")
    assert isomorphic(again.graph(g), ds.graph(g))


@pytest.mark.parametrize(
    "text, message",
    [
        ("<a:s> <a:p> <a:o> .\n", "line 1: a triple without a graph label"),
        ('# ok\n<a:s> <a:p> "x"@en <a:g> .\n', "line 2: language-tagged literals"),
        ('<a:s> <a:p> "1.5"^^<http://www.w3.org/2001/XMLSchema#integer> <a:g> .', "line 1:"),
        ('<a:s> <a:p> "x"^^<urn:mytype> <a:g> .', "datatype <urn:mytype> is not one"),
        ('"lit" <a:p> <a:o> <a:g> .', "line 1: subjects and graph labels are IRIs"),
        ("<a:s> _:p <a:o> <a:g> .", "line 1: a predicate is an IRI"),
        ("<a:s> <a:p> <a:o> <a:g>\n", "line 1: expected subject, predicate, object, graph"),
        ("<a s> <a:p> <a:o> <a:g> .", "line 1:"),
        ('<a:s> <a:p> "[1,"^^<http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON> <a:g> .', "line 1:"),
        ('<a:s> <a:p> "NaN"^^<http://www.w3.org/2001/XMLSchema#double> <a:g> .', "NaN"),
        (  # past the JSON reader's recursion limit
            '<a:s> <a:p> "'
            + "[" * 5_000
            + '"^^<http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON> <a:g> .',
            "line 1: a JSON list literal nests deeper than 100 levels",
        ),
        (
            '<a:s> <a:p> "'
            + "[" * 101
            + "]" * 101
            + '"^^<http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON> <a:g> .',
            "line 1: a JSON list literal nests deeper than 100 levels",
        ),
    ],
)
def test_bad_n_quads_name_the_line(text, message):
    with pytest.raises(NQuadsError, match=message):
        from_nquads(text)


def test_a_cycle_is_refused_on_import():
    from peerkit.storage.quads import FatLinkViolation

    text = "_:a <urn:p> _:b <urn:g> .\n_:b <urn:p> _:a <urn:g> .\n"
    with pytest.raises(FatLinkViolation):
        from_nquads(text)


def test_cli_import_export(tmp_path):
    import subprocess
    import sys

    (tmp_path / "peer.yaml").write_text("name: cli\n")
    text = to_nquads(to_quads(DOC, SCHEMA_ORG))
    (tmp_path / "doc.nq").write_text(text)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "peerkit", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    imported = run("quads", "import", "doc.nq", "--pin", "doc")
    assert imported.returncode == 0, imported.stderr
    root = imported.stdout.strip()
    assert f"doc\t{root}" in run("pin", "ls").stdout
    exported = run("quads", "export", root)
    assert exported.returncode == 0 and exported.stdout == text
    (tmp_path / "bad.nq").write_text("<a:s> <a:p> <a:o> .\n")
    bad = run("quads", "import", "bad.nq")
    assert bad.returncode == 2 and "line 1: a triple without a graph label" in bad.stderr
    assert "Traceback" not in bad.stderr
