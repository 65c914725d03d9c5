"""Vocabularies (the whitepaper's r): JSON-LD-style contexts mapping document keys to IRIs.

A vocabulary names terms; ``iri(term)`` expands a document key, ``term(iri)`` compacts it back.
Prefixed keys (``schema:name``) expand through the vocabulary's prefixes. peerkit ships a
schema.org subset; apps register their own with :func:`register_vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import StorageError

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


class VocabularyError(StorageError):
    code = "vocabulary"


@dataclass(frozen=True)
class Vocabulary:
    name: str
    base: str  # IRI prefix of the vocabulary's own terms
    terms: dict[str, str]  # term -> IRI (types and properties)
    prefixes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        reverse: dict[str, str] = {}
        for term, iri in self.terms.items():
            if iri in reverse:
                raise VocabularyError(f"{self.name}: {term!r} and {reverse[iri]!r} share {iri}")
            reverse[iri] = term
        object.__setattr__(self, "_reverse", reverse)

    def iri(self, key: str) -> str:
        """The IRI of a document key or type name. VocabularyError for unknown keys."""
        found = self.terms.get(key)
        if found is not None:
            return found
        prefix, sep, rest = key.partition(":")
        if sep and prefix in self.prefixes and rest:
            return self.prefixes[prefix] + rest
        if sep and key.startswith(("http://", "https://", "urn:")):
            return key
        raise VocabularyError(
            f"{key!r} is not a term of vocabulary {self.name!r}",
            hint=f"use a term of {self.name}, a full IRI, or register a vocabulary that has it",
        )

    def term(self, iri: str) -> str:
        """The document key for an IRI (the inverse of :meth:`iri`)."""
        reverse: dict[str, str] = self._reverse  # type: ignore[attr-defined]
        found = reverse.get(iri)
        if found is not None:
            return found
        for prefix, base in self.prefixes.items():
            if iri.startswith(base) and len(iri) > len(base):
                return f"{prefix}:{iri[len(base) :]}"
        return iri


_SCHEMA = "https://schema.org/"
_SCHEMA_TERMS = [
    # types
    "Thing",
    "Person",
    "Organization",
    "CreativeWork",
    "Article",
    "BlogPosting",
    "WebPage",
    "ImageObject",
    "VideoObject",
    "AudioObject",
    "MediaObject",
    "Dataset",
    "DigitalDocument",
    "Comment",
    "Message",
    "Event",
    "Place",
    "Product",
    "SoftwareApplication",
    # properties
    "name",
    "description",
    "identifier",
    "url",
    "image",
    "sameAs",
    "alternateName",
    "author",
    "creator",
    "contributor",
    "publisher",
    "editor",
    "about",
    "mentions",
    "headline",
    "text",
    "articleBody",
    "abstract",
    "keywords",
    "inLanguage",
    "license",
    "dateCreated",
    "dateModified",
    "datePublished",
    "version",
    "encodingFormat",
    "contentUrl",
    "contentSize",
    "width",
    "height",
    "duration",
    "caption",
    "thumbnail",
    "email",
    "givenName",
    "familyName",
    "jobTitle",
    "memberOf",
    "affiliation",
    "hasPart",
    "isPartOf",
    "position",
    "comment",
    "commentCount",
    "sender",
    "recipient",
    "startDate",
    "endDate",
    "location",
    "address",
    "latitude",
    "longitude",
    "price",
]

SCHEMA_ORG = Vocabulary(
    name="schema.org",
    base=_SCHEMA,
    terms={t: _SCHEMA + t for t in _SCHEMA_TERMS},
    prefixes={"schema": _SCHEMA, "xsd": "http://www.w3.org/2001/XMLSchema#"},
)

_registry: dict[str, Vocabulary] = {SCHEMA_ORG.name: SCHEMA_ORG}


def register_vocabulary(vocab: Vocabulary) -> None:
    existing = _registry.get(vocab.name)
    if existing is not None and existing != vocab:
        raise VocabularyError(f"a different vocabulary named {vocab.name!r} is registered")
    _registry[vocab.name] = vocab


def vocabulary(name: str) -> Vocabulary:
    try:
        return _registry[name]
    except KeyError:
        raise VocabularyError(
            f"no vocabulary named {name!r}", hint=f"known: {', '.join(sorted(_registry))}"
        ) from None
