"""Signature domains: the prefix every signed byte string starts with, one per kind of thing
signed, so that a signature made for one can never be replayed as another (a name record as a
delegation, a DCS update as an envelope...).

In one place because they are one namespace: adding a kind means adding it here, where a test
(tests/unit/test_domains.py) checks that no two prefixes overlap.
"""

from __future__ import annotations

#: IPNS records (the IPNS spec's own prefix, so records verify in Kubo and Helia too)
NAME_RECORD = b"ipns-signature:"
#: the signature a master key makes over a name, from which that name's key is derived
NAME_KEY = b"peerkit/name-key/v1\x00"
#: a DCS invitation or key refresh (sealed envelope)
DCS_ENVELOPE = b"peerkit/dcs/envelope/v1\x00"
#: a DCS stream entry
DCS_UPDATE = b"peerkit/dcs/update/v1\x00"
#: a DCS snapshot: an author's own stream compacted into one update
DCS_SNAPSHOT = b"peerkit/dcs/snapshot/v1\x00"
#: a collaborator asking a keeper for the mail kept for them
DCS_COLLECT = b"peerkit/dcs/collect/v1\x00"
#: the content key of sealed content, sealed to one reader
SEALED_KEY = b"peerkit/sealed/key/v1\x00"
#: associated data of each encrypted chunk of sealed content (not a signature: kept here so no
#: two byte strings peerkit authenticates can be confused)
SEALED_CHUNK = b"peerkit/sealed/chunk/v1\x00"


def auth_token(kind: str) -> bytes:
    """A Multiauth token of ``kind`` (delegation, invocation, revocation...)."""
    return f"peerkit/auth/{kind}/v1\n".encode()
