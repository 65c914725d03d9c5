"""Field types for message schemas: peerkit's own identifiers as checked strings.

They are plain ``str`` at run time and on the wire; msgspec checks the pattern whenever a
message is decoded, so a malformed id never reaches a handler::

    class Pin(Request, tag="app.Pin"):
        root: CID
        owner: PeerId
"""

from __future__ import annotations

from typing import Annotated

import msgspec

#: a CID as text: CIDv1 in base32 (``bafy...``) or a CIDv0 (``Qm...``)
CID = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(b[a-z2-7]{20,200}|Qm[1-9A-HJ-NP-Za-km-z]{44})$",
        description="a CID: CIDv1 base32 (bafy...) or CIDv0 (Qm...)",
    ),
]

#: a libp2p peer id in base58btc (``12D3KooW...`` for Ed25519 keys, ``Qm...`` for others); the
#: in-memory transport's peers have the same kind of id
PeerId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(12D3KooW|Qm|16Uiu2)[1-9A-HJ-NP-Za-km-z]{20,60}$",
        description="a libp2p peer id (base58btc)",
    ),
]

#: a mutable name: the base36 IPNS name of its key (``k51...``)
Name = Annotated[
    str,
    msgspec.Meta(pattern=r"^k51[0-9a-z]{40,80}$", description="an IPNS name (base36 k51...)"),
]

__all__ = ["CID", "Name", "PeerId"]
