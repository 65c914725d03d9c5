"""``node.naming``: publish, resolve, watch and revoke names; log in and find the Me DAG."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ..auth.tokens import Token
from ..blocks import parse_cid
from ..clock import utc
from ..envelopes import Identity
from ..errors import PeerkitError
from ..storage.errors import BlockNotFound
from ..storage.sealed import Reader, reader_of
from . import content
from .content import Published
from .keeper import DropKept, KeptName, KeptNames, ListKept
from .keys import (
    ME_NAME,
    EthereumWallet,
    KdfParams,
    MasterKey,
    Wallet,
    derive_master_key,
    name_key,
)
from .messages import History, LearnRecord, NameHistory, PublishRecord, Resolved, ResolveName
from .records import REVOKED_VALUE, NameRecord, create_record, name_for, verify_record
from .routing import NAMESPACE

#: while a name is watched, how often a few connected peers are asked for its head (what
#: gossip lost on the way then shows up within this), and how many of them
WATCH_REFRESH_SECONDS = 5.0
WATCH_REFRESH_PEERS = 3

if TYPE_CHECKING:
    from ..node import Node

#: the Me DAG: the user's index (naming/content.py says what each field holds)
ME_DEFAULTS: dict[str, Any] = {
    "vocabularies": ["schema.org"],
    "topics": [],
    "rendezvous": [],
    "names": [],
    "content": {},
}


class MeDagError(PeerkitError):
    code = "me_dag"


class NamingClient:
    def __init__(self, node: Node) -> None:
        from .extension import NamingExtension

        ext = node.extension(NamingExtension)
        assert ext is not None  # built by node.naming, which raises FamilyDisabled without it
        self.node = node
        self.ref = ext.ref
        self.heads = ext.heads
        self._refreshing = ext.refreshing

    def now(self) -> datetime:
        return utc(self.node.clock)

    async def publish(
        self,
        key: Ed25519PrivateKey,
        value: str | bytes,
        *,
        lifetime: timedelta = timedelta(hours=24),
        revoked: bool = False,
        successor: str | None = None,
        push_to: list[str] | None = None,
    ) -> NameRecord:
        """Sign the next record for ``key``'s name and publish it. ``value`` is a path such
        as ``/ipfs/<cid>`` (a CID alone is turned into one).

        The next sequence follows the newest record known here or to connected peers (a new
        device must not restart at 0). The record is announced on the names topic; ``push_to``
        peers (say, the app's own nodes) also get it directly, which a short-lived publisher
        needs: pubsub may not have delivered before it leaves.
        """
        name = name_for(key)
        head = await self.resolve(name)
        seq = 0 if head is None else head.sequence + 1
        raw_value = value if isinstance(value, bytes) else _path(value)
        raw = create_record(
            key,
            raw_value,
            seq,
            now=self.now(),
            lifetime=lifetime,
            revoked=revoked,
            successor=successor,
        )
        await self.ref.ask(PublishRecord(name=name, record=raw))
        for peer in push_to or ():
            await self.node.request(peer, PublishRecord(name=name, record=raw))
        return verify_record(name, raw, now=self.now())

    async def revoke(
        self,
        key: Ed25519PrivateKey,
        successor: str | None = None,
        push_to: list[str] | None = None,
    ) -> NameRecord:
        """End the name for good (optionally pointing to a successor name)."""
        value = f"/ipns/{successor}".encode() if successor else REVOKED_VALUE
        return await self.publish(
            key,
            value,
            revoked=True,
            successor=successor,
            lifetime=timedelta(days=365 * 100),
            push_to=push_to,
        )

    async def resolve(
        self, name: str, *, at: int | None = None, local_only: bool = False
    ) -> NameRecord | None:
        """The newest record of ``name`` (or the one with sequence ``at``) held here; when
        none is, and not ``local_only``, the connected peers are asked (here, in the caller's
        task: the naming actor's mailbox never waits on the network)."""
        reply: Resolved = await self.ref.ask(ResolveName(name=name, at=at), timeout=15)
        if reply.record is None and at is None and not local_only:
            await self._learn_from_peers(name)
            reply = await self.ref.ask(ResolveName(name=name), timeout=15)
        if reply.record is None and at is None and not local_only:
            await self._learn_from_dht(name)
            reply = await self.ref.ask(ResolveName(name=name), timeout=15)
        if reply.record is None:
            return None
        return verify_record(name, reply.record, now=self.now(), check_expiry=at is not None)

    async def _learn_from_peers(self, name: str, peers: list[str] | None = None) -> None:
        ask = ResolveName(name=name, local_only=True)
        asked = self.node.peers() if peers is None else peers
        replies: list[Any] = await asyncio.gather(
            *(self.node.request(p, ask, timeout=5) for p in asked),
            return_exceptions=True,
        )
        for reply in replies:
            if isinstance(reply, Resolved) and reply.record is not None:
                try:  # the actor verifies it and keeps it only if it is newer
                    await self.ref.ask(LearnRecord(name=name, record=reply.record))
                except PeerkitError as exc:
                    self.node.log.warning(
                        "name.peer_record_rejected", name=name[:16], error=str(exc)
                    )

    async def _learn_from_dht(self, name: str) -> None:
        if not self.node.has("routing"):
            return
        raw = await self.node.client("routing").get_record(NAMESPACE, name)
        if raw is not None:
            try:
                await self.ref.ask(LearnRecord(name=name, record=raw))
            except PeerkitError as exc:
                self.node.log.warning("name.dht_record_rejected", name=name[:16], error=str(exc))

    async def history(self, name: str, *, peer: str | None = None) -> list[NameRecord]:
        """The verified records of ``name`` this peer holds (or ``peer`` holds), oldest first."""
        msg = NameHistory(name=name)
        reply: History = await (
            self.node.request(peer, msg) if peer is not None else self.ref.ask(msg)
        )
        return [verify_record(name, r, now=self.now(), check_expiry=False) for r in reply.records]

    async def read_document(self, name: str, *, identity: Identity | None = None) -> dict[str, Any]:
        """The document ``name`` points at now (sealed content opens with ``identity``)."""
        return await content.read_document(self.node, name, identity)

    async def kept(self) -> list[KeptName]:
        """The names this peer keeps for users who delegated ``name/republish`` to it."""
        reply: KeptNames = await self.node.actor("name-keeper").ask(ListKept())
        return list(reply.kept)

    async def drop_kept(self, name: str) -> None:
        """Stop keeping ``name`` for its user (its pinned content goes at the next GC)."""
        await self.node.actor("name-keeper").ask(DropKept(name=name))

    async def watch(self, name: str, *, current: bool = False) -> AsyncIterator[NameRecord]:
        """Every new head record of ``name`` as it arrives (until the caller stops).

        With ``current``, the head held here now comes first (when there is one): a watcher
        that starts after reading the name (a page, a client reconnecting) then misses
        nothing published in between, because it listens before it looks.
        """
        with self.heads.subscription(name) as arrivals:
            if name not in self._refreshing:
                self._refreshing[name] = asyncio.ensure_future(self._refresh_while_watched(name))
            if current:
                head = await self.resolve(name, local_only=True)
                if head is not None:
                    yield head
                    # heads put while it was looked up came before it: skip up to it (not by
                    # sequence: a late revocation can have a lower one, and must be seen)
                    queued = [arrivals.get_nowait() for _ in range(arrivals.qsize())]
                    raws = [r.raw for r in queued]
                    after = raws.index(head.raw) + 1 if head.raw in raws else 0
                    for record in queued[after:]:
                        yield record
            while True:
                yield await arrivals.get()

    async def _refresh_while_watched(self, name: str) -> None:
        """Gossip delivers each record once, and a record lost on the way (a connection that
        dropped and came back, a mesh that changed) would leave a watcher on an old version
        until the next: while ``name`` is watched (by any number of watchers: one task per
        name), a few connected peers are asked for its head now and then, and a newer one
        reaches the watchers as any other."""
        clock = self.node.clock
        try:
            while True:
                await clock.sleep(WATCH_REFRESH_SECONDS)
                if not self.heads.watching(name):
                    return
                peers = self.node.peers()
                if len(peers) > WATCH_REFRESH_PEERS:
                    peers = random.sample(peers, WATCH_REFRESH_PEERS)
                try:
                    await self._learn_from_peers(name, peers)
                except PeerkitError as exc:  # the node stopping: the watchers end with it
                    self.node.log.debug(
                        "name.watch_refresh_failed", name=name[:16], error=str(exc)
                    )
        finally:
            self._refreshing.pop(name, None)

    # --- identity and the Me DAG ----------------------------------------------------------

    async def login(
        self,
        wallet: Wallet,
        passphrase: str,
        app: str,
        *,
        check: str | None = None,
        kdf: KdfParams | None = None,
    ) -> Session:
        """Derive the master key (KeyDrift if ``check`` does not match) and open the Me DAG,
        creating it at first login, finding it on other peers otherwise."""
        master = await asyncio.to_thread(
            derive_master_key, wallet, passphrase, app, kdf=kdf or KdfParams(), expected_check=check
        )
        session = Session(self, master, wallet)
        session.me = await session.load_me() or await session.create_me()
        await content.remember_app(session)
        return session


class Session:
    """A logged-in user on this peer: the master key and the decrypted Me DAG."""

    def __init__(
        self, naming: NamingClient, master: MasterKey, wallet: Wallet | None = None
    ) -> None:
        self.naming = naming
        self.master = master
        #: what signs delegations for the user (the names' keys hand their names to it once)
        self.wallet = wallet
        self.me_key = name_key(master, ME_NAME)
        self.me_name = name_for(self.me_key)
        self._aead = ChaCha20Poly1305(master.derive("me-dag/encryption"))
        self.me: dict[str, Any] = {}

    def key_for(self, name: str) -> Ed25519PrivateKey:
        return name_key(self.master, name)

    def name_of(self, label: str) -> str:
        """The name the user's ``label`` is published under."""
        return name_for(self.key_for(label))

    @functools.cached_property
    def identity(self) -> Identity:
        """Who the user is to sealed content (and collaboration): derived from the master
        key, so it is the same on every device they log in from."""
        return Identity.from_seed(self.master.derive("content/identity"))

    @property
    def reader(self) -> Reader:
        """What an owner needs to seal content for this user (their id and box key)."""
        return reader_of(self.identity)

    async def publish_document(
        self,
        label: str,
        document: dict[str, Any],
        *,
        vocab: str = "schema.org",
        readers: list[Reader] | None = None,
        push_to: list[str] | None = None,
    ) -> Published:
        """Store ``document`` as quads (sealed for ``readers`` when given), point the
        label's name at it and list it in the Me DAG: scenario 1's write path in one call."""
        return await content.publish_document(
            self, label, document, vocab=vocab, readers=readers, push_to=push_to
        )

    async def set_readers(
        self, label: str, readers: list[Reader], *, push_to: list[str] | None = None
    ) -> Published:
        """Change who can read a sealed label: a new version under a new key."""
        return await content.set_readers(self, label, readers, push_to=push_to)

    async def read_document(self, name: str) -> dict[str, Any]:
        """The document a name points at, opened as this user: scenario 1's read path."""
        return (await content.read_as(self, name))[1]

    async def read_published(self, name: str) -> tuple[NameRecord, dict[str, Any]]:
        """As read_document, with the name record whose version was read."""
        return await content.read_as(self, name)

    async def create_me(self) -> dict[str, Any]:
        me = dict(ME_DEFAULTS)
        await self.save_me(me)
        return me

    async def save_me(self, me: dict[str, Any]) -> None:
        nonce = os.urandom(12)
        plain = json.dumps(me, sort_keys=True).encode()
        sealed = nonce + self._aead.encrypt(nonce, plain, self.me_name.encode())
        storage = self.naming.node.storage
        cid = await storage.put_raw(sealed)
        await storage.pin(f"me/{self.me_name}", cid)
        await self.naming.publish(self.me_key, f"/ipfs/{cid.encode()}")
        self.me = me

    async def load_me(self) -> dict[str, Any] | None:
        # The newest Me DAG the connected peers know, not only what gossip brought here: a
        # device that starts from a stale one would save over the other devices' changes.
        await self.naming._learn_from_peers(self.me_name)
        record = await self.naming.resolve(self.me_name)
        if record is None:
            return None
        cid = parse_cid(record.value.decode().removeprefix("/ipfs/"))
        storage = self.naming.node.storage
        if not storage.has(cid):
            try:
                await storage.fetch(cid, pin=f"me/{self.me_name}")
            except BlockNotFound:
                raise MeDagError(
                    "your Me DAG is published, but no connected peer has its block",
                    hint="connect to a peer that keeps your data (an app node) and log in again",
                ) from None
        sealed = (await storage.get_block(cid)).data
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], self.me_name.encode())
        except InvalidTag:
            raise MeDagError("the Me DAG does not decrypt with this master key") from None
        loaded: dict[str, Any] = json.loads(plain)
        return loaded

    async def keep_with(
        self, peer: str, labels: list[str] | None = None, *, expires_in: int = 30 * 24 * 3600
    ) -> list[Token]:
        """Ask the app node ``peer`` to keep this user's Me DAG, and the names of ``labels``
        (``key_for(label)``), while the user's devices are away: the wallet delegates
        ``name/republish`` on each to it, for ``expires_in`` seconds (revocable with
        ``node.auth.revoke``). The app node pins what the names point to and keeps their
        records in the DHT, within its quotas per user (peerkit.naming.keeper)."""
        from ..auth.principals import Ed25519Signer, WalletSigner
        from ..auth.tokens import Capability

        if not isinstance(self.wallet, EthereumWallet):
            raise MeDagError(
                "this session has no Ethereum wallet to sign delegations",
                hint="log in with node.naming.login(EthereumWallet(...), ...)",
            )
        node = self.naming.node
        wallet = WalletSigner(self.wallet)
        keys = [self.me_key] + [self.key_for(label) for label in labels or []]
        grants = []
        for key in keys:
            resource = f"name:{name_for(key)}"
            binding = node.auth.delegate(  # the name's key hands the name to the wallet
                wallet.did,
                [Capability(resource, "name/*")],
                signer=Ed25519Signer(key),
                expires_in=max(expires_in, 365 * 24 * 3600),
            )
            grant = node.auth.delegate(
                node.auth.did_of(peer),
                [Capability(resource, "name/republish")],
                signer=wallet,
                expires_in=expires_in,
                proofs=[binding],
            )
            await node.auth.hold(peer, grant)
            grants.append(grant)
        return grants

    async def add_name(self, name: str) -> None:
        """Record in the Me DAG that the user has access to ``name``."""
        if name not in self.me["names"]:
            self.me = {**self.me, "names": [*self.me["names"], name]}
            await self.save_me(self.me)


def _path(value: Any) -> bytes:
    if not isinstance(value, str):  # a CID object
        return f"/ipfs/{parse_cid(value).encode()}".encode()
    if value.startswith(("/ipfs/", "/ipns/")):
        return value.encode()
    return f"/ipfs/{parse_cid(value).encode()}".encode()
