"""Multiauth rules: one table of valid and invalid cases, each failing with its own error,
and property tests over random chains with one injected defect."""

import hashlib
from dataclasses import dataclass, field

import pytest
from cbrrr import CID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerkit.auth import errors as E
from peerkit.auth.chain import ReplayCache, Request, authorize, check_signature
from peerkit.auth.principals import Ed25519Signer, WalletSigner, did_for_peer, peer_for_did
from peerkit.auth.tokens import (
    CODES,
    DELEGATION,
    DOMAINS,
    Capability,
    Token,
    delegate,
    invoke,
    parse,
    revoke,
)
from peerkit.blocks import make_block
from peerkit.naming.keys import EthereumWallet
from peerkit.naming.records import SIGNATURE_PREFIX
from peerkit.wire import encode_uvarint

NOW = 1_800_000_000
PREFIX = encode_uvarint(CODES[DELEGATION])
ARGS = hashlib.sha256(b"the request").digest()
NAME = "name:k51example"
REPUBLISH = Capability(NAME, "name/republish")


def ed(n: int) -> Ed25519Signer:
    return Ed25519Signer.from_seed(bytes([n]) * 32)


OWNER, APP, BOB, MALLORY = ed(1), ed(2), ed(3), ed(4)
WALLET = WalletSigner(EthereumWallet(b"\x05" * 32))


@dataclass
class World:
    """A clean chain: owner (subject) -> wallet -> app node, invoked on Bob."""

    tokens: dict[str, Token] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    replays: ReplayCache = field(default_factory=ReplayCache)

    def keep(self, *tokens: Token) -> None:
        for t in tokens:
            self.tokens[t.cid] = t

    def check(self, inv: Token, *, needs: Capability = REPUBLISH, now: int = NOW) -> list[Token]:
        return authorize(
            inv,
            Request(
                verifier=BOB.did,
                sender=APP.did,
                cmd="naming.Republish",
                needs=needs,
                args=ARGS,
                owner=OWNER.did,
            ),
            resolve=self.tokens.get,
            now=now,
            revoked=self.revoked.__contains__,
            replays=self.replays,
        )


def chain(world: World, **leaf_kwargs) -> tuple[Token, Token, Token]:
    root = delegate(
        OWNER,
        audience=WALLET.did,
        caps=[Capability("name:*", "name/*")],
        expires_in=86400,
        now=NOW - 100,
    )
    kwargs = dict(audience=APP.did, caps=[REPUBLISH], expires_in=3600, proofs=[root], now=NOW - 10)
    kwargs.update(leaf_kwargs)
    leaf = delegate(WALLET, **kwargs)
    inv = on_bob(leaf)
    world.keep(root, leaf)
    return root, leaf, inv


def on_bob(leaf: Token) -> Token:
    """The app node invokes naming.Republish on Bob under ``leaf``."""
    return invoke(
        APP,
        audience=BOB.did,
        cmd="naming.Republish",
        capability=REPUBLISH,
        args=ARGS,
        proof=leaf,
        now=NOW,
    )


def forged_signature(token: Token, signer, domain: bytes) -> Token:
    """The same payload, signed by ``signer`` over ``domain`` instead of its own."""
    body = make_block(
        {
            "alg": signer.alg,
            "p": parse_payload(token),
            "s": signer.sign(domain + token.signed[len(DOMAINS[token.kind]) :]),
        }
    ).data
    return parse(token.to_bytes()[: len(token.to_bytes()) - len(token.body)] + body)


def parse_payload(token: Token):
    from peerkit.blocks import decode

    return decode(token.body)["p"]


def test_a_clean_chain_is_accepted_once():
    w = World()
    root, leaf, inv = chain(w)
    assert [t.cid for t in w.check(parse(inv.to_bytes()))] == [leaf.cid, root.cid]
    with pytest.raises(E.Replayed, match="already used"):
        w.check(inv)


def _expired(w):
    _, _, inv = chain(w, expires_in=60, now=NOW - 1000)
    return inv


def _not_yet_valid(w):
    _, _, inv = chain(w, not_before=NOW + 600)
    return inv


def _invoked_on_another_peer(w):
    _, leaf, _ = chain(w)
    return invoke(
        APP,
        audience=MALLORY.did,
        cmd="naming.Republish",
        capability=REPUBLISH,
        args=ARGS,
        proof=leaf,
        now=NOW,
    )


def two_links(w, *, root_issuer=OWNER, root_to=WALLET, root_can="name/*"):
    """root_issuer -> root_to (root_can on name:*), then the wallet -> the app node."""
    root = delegate(
        root_issuer,
        audience=root_to.did,
        caps=[Capability("name:*", root_can)],
        expires_in=86400,
        now=NOW,
    )
    leaf = delegate(
        WALLET, audience=APP.did, caps=[REPUBLISH], expires_in=3600, proofs=[root], now=NOW
    )
    w.keep(root, leaf)
    return on_bob(leaf)


def _delegated_to_someone_else(w):
    _, leaf, _ = chain(w, audience=MALLORY.did)
    return on_bob(leaf)


def _widened(w):
    # the wallet holds name/* on name:*, but a middle link only had name/resolve
    return two_links(w, root_can="name/resolve")


def _broken_link(w):
    # the proof was given to Mallory, not to the wallet that issues the leaf
    return two_links(w, root_to=MALLORY)


def _root_not_self_issued(w):
    leaf = delegate(
        WALLET, audience=APP.did, caps=[REPUBLISH], subject=OWNER.did, expires_in=3600, now=NOW
    )
    w.keep(leaf)
    return on_bob(leaf)


def _unresolvable(w):
    root, _, inv = chain(w)
    del w.tokens[root.cid]
    return inv


def _bad_signature(w):
    _root, leaf, _inv = chain(w)
    sig = bytearray(leaf.sig)
    sig[10] ^= 1
    body = make_block({"alg": leaf.alg, "p": parse_payload(leaf), "s": bytes(sig)}).data
    bad = parse(leaf.to_bytes()[: -len(leaf.body)] + body)
    w.keep(bad)
    return on_bob(bad)


def _signed_for_a_name_record(w):
    # the owner's key signed these bytes, but as a name record (ipns-signature:), not a delegation
    root, leaf, _ = chain(w)
    fake_root = forged_signature(root, OWNER, SIGNATURE_PREFIX)
    w.keep(fake_root)
    leaf = delegate(
        WALLET, audience=APP.did, caps=[REPUBLISH], expires_in=3600, proofs=[fake_root], now=NOW
    )
    w.keep(leaf)
    return on_bob(leaf)


def _signed_for_a_dcs_envelope(w):
    from peerkit.dcs.crypto import ENVELOPE_DOMAIN

    _, _, inv = chain(w)
    return forged_signature(inv, APP, ENVELOPE_DOMAIN)


def _signed_as_an_invocation(w):
    _, _leaf, inv = chain(w)
    return forged_signature(inv, APP, DOMAINS[DELEGATION])


def _revoked(w):
    _, leaf, inv = chain(w)
    w.revoked.add(leaf.cid)
    return inv


def _replayed(w):
    _, _, inv = chain(w)
    w.check(inv)
    return inv


def _not_granted(w):
    _, leaf, _ = chain(w, caps=[Capability(NAME, "name/resolve")])
    return invoke(
        APP,
        audience=BOB.did,
        cmd="naming.Republish",
        capability=Capability(NAME, "name/resolve"),
        args=ARGS,
        proof=leaf,
        now=NOW,
    )


def _subject_does_not_own_the_name(w):
    return two_links(w, root_issuer=MALLORY)


def _other_request(w):
    _, leaf, _ = chain(w)
    return invoke(
        APP,
        audience=BOB.did,
        cmd="naming.Republish",
        capability=REPUBLISH,
        args=hashlib.sha256(b"another message").digest(),
        proof=leaf,
        now=NOW,
    )


CASES = [
    ("expired", _expired, E.Expired, "expired"),
    ("not yet valid", _not_yet_valid, E.NotYetValid, "valid from"),
    ("invoked on another peer", _invoked_on_another_peer, E.WrongAudience, "addressed to"),
    ("delegated to someone else", _delegated_to_someone_else, E.WrongAudience, "the invoker is"),
    ("widened capability", _widened, E.CapabilityWidened, "wider than what the proof grants"),
    ("broken chain", _broken_link, E.BrokenChain, "not to the issuer"),
    ("root not issued by its subject", _root_not_self_issued, E.BrokenChain, "must be its subject"),
    ("unresolvable proof", _unresolvable, E.ProofUnresolvable, "cannot be found"),
    ("bad signature", _bad_signature, E.BadSignature, "does not verify"),
    ("signature from a name record", _signed_for_a_name_record, E.WrongContext, "a name record"),
    ("signature from a DCS envelope", _signed_for_a_dcs_envelope, E.WrongContext, "DCS envelope"),
    (
        "delegation signature on an invocation",
        _signed_as_an_invocation,
        E.WrongContext,
        "made for a delegation",
    ),
    ("revoked", _revoked, E.Revoked, "revoked by its issuer"),
    ("replayed", _replayed, E.Replayed, "already used"),
    ("capability not granted", _not_granted, E.NotGranted, "invokes name/resolve"),
    (
        "subject does not own the resource",
        _subject_does_not_own_the_name,
        E.NotGranted,
        "does not own",
    ),
    ("invocation of another request", _other_request, E.NotGranted, "another request"),
]


@pytest.mark.parametrize("what, make, error, message", CASES, ids=[c[0] for c in CASES])
def test_each_rule_fails_with_its_own_error(what, make, error, message):
    w = World()
    inv = make(w)
    with pytest.raises(error, match=message) as info:
        w.check(inv)
    # its own error: not merely a parent class of another case's error
    others = {c[2] for c in CASES if c[2] is not error}
    assert not any(type(info.value) is o for o in others)


def test_error_codes_are_distinct_and_cross_the_wire():
    from peerkit.errors import error_from_code

    codes = {c[2].code for c in CASES}
    assert len(codes) == len({c[2] for c in CASES})
    for _, _, err, _ in CASES:
        assert type(error_from_code(err.code, "x")) is err


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "unknown multicodec prefix"),
        (PREFIX + b"\xa0", "map of alg, p and s"),
        (PREFIX + b"junk", "not strict DAG-CBOR"),
        (PREFIX + b"\x00" * (17 * 1024), "exceeds"),
    ],
)
def test_malformed_tokens_are_refused_clearly(data, message):
    with pytest.raises(E.TokenMalformed, match=message):
        parse(data)


def test_a_payload_with_a_missing_field_is_named():
    good = delegate(OWNER, audience=APP.did, caps=[REPUBLISH], expires_in=60, now=NOW)
    payload = dict(parse_payload(good))
    del payload["aud"]
    body = make_block({"alg": "EdDSA", "p": payload, "s": good.sig}).data
    with pytest.raises(E.TokenMalformed, match="aud"):
        parse(good.to_bytes()[: -len(good.body)] + body)


def test_tokens_are_content_addressed_blocks():
    from peerkit.blocks import cid_for

    t = delegate(OWNER, audience=APP.did, caps=[REPUBLISH], expires_in=60, now=NOW)
    assert t.cid == cid_for(t.body).encode()  # the CID of the DAG-CBOR body
    assert t.to_bytes().startswith(PREFIX)
    assert parse(t.to_bytes()) == t


def test_a_delegation_signature_never_verifies_as_a_name_record():
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    from peerkit.auth.principals import ed25519_of

    t = delegate(OWNER, audience=APP.did, caps=[REPUBLISH], expires_in=60, now=NOW)
    body = t.signed[len(DOMAINS[DELEGATION]) :]
    with pytest.raises(BadSignatureError):
        VerifyKey(ed25519_of(OWNER.did)).verify(SIGNATURE_PREFIX + body, t.sig)
    check_signature(t)  # and it does verify as what it is


def test_wallet_signatures_are_eip191():
    t = delegate(WALLET, audience=APP.did, caps=[REPUBLISH], expires_in=60, now=NOW)
    assert t.alg == "EIP191"
    from eth_account import Account
    from eth_account.messages import encode_defunct

    signer = Account.recover_message(encode_defunct(primitive=t.signed), signature=t.sig)
    assert WALLET.did.endswith(signer)


def test_revocations_only_from_the_issuer():
    from peerkit.auth.revocations import Revocations

    leaf = delegate(WALLET, audience=APP.did, caps=[REPUBLISH], expires_in=60, now=NOW)
    r = Revocations()
    with pytest.raises(E.BrokenChain, match="only the issuer"):
        r.accept(revoke(MALLORY, leaf).to_bytes(), leaf.to_bytes())
    assert leaf.cid not in r
    _, new = r.accept(revoke(WALLET, leaf).to_bytes(), leaf.to_bytes())
    assert new and leaf.cid in r


def test_peer_ids_and_dids_convert_both_ways():
    from peerkit.naming.records import peer_id_for

    pid = peer_id_for(bytes(range(32)))
    did = did_for_peer(pid)
    assert did and did.startswith("did:key:z6Mk") and peer_for_did(did) == pid
    assert did_for_peer("QmNotAnEd25519KeyAtAll") is None


# --- properties -------------------------------------------------------------------------------

SIGNERS = [ed(10 + i) for i in range(6)]
ABILITIES = ["name/*", "name/republish"]
DEFECTS = ["expire", "future", "audience", "widen", "signature", "unresolvable", "revoke"]


def build(length: int, defect: str | None, at: int) -> tuple[World, Token]:
    """A chain SIGNERS[0] (subject) -> ... -> SIGNERS[length], invoked on Bob; with ``defect``
    injected into link ``at`` (0 = root)."""
    w = World()
    prev: Token | None = None
    subject = SIGNERS[0].did
    for i in range(length):
        iss, aud = SIGNERS[i], SIGNERS[i + 1]
        caps = [Capability("name:*" if i == 0 else NAME, ABILITIES[min(i, 1)])]
        kw = dict(expires_in=3600, now=NOW - 10)
        if defect == "expire" and i == at:
            kw = dict(expires_in=10, now=NOW - 1000)
        if defect == "future" and i == at:
            kw["not_before"] = NOW + 3600
        if defect == "audience" and i == at:
            aud = MALLORY
        if defect == "widen" and i == at and i > 0:
            caps = [Capability("*", "*")]
        t = delegate(
            iss, audience=aud.did, caps=caps, proofs=[prev] if prev else [], subject=subject, **kw
        )
        if defect == "signature" and i == at:
            t = forged_signature(t, MALLORY if iss.alg == "EdDSA" else iss, DOMAINS[DELEGATION])
        w.keep(t)
        if defect == "unresolvable" and i == at:
            w.tokens.pop(t.cid)
        if defect == "revoke" and i == at:
            w.revoked.add(t.cid)
        prev = t
    invoker = SIGNERS[length]
    assert prev is not None
    inv = invoke(
        invoker,
        audience=BOB.did,
        cmd="naming.Republish",
        capability=REPUBLISH,
        args=ARGS,
        proof=prev,
        now=NOW,
    )
    if defect == "unresolvable" and at == length - 1:
        w.tokens.pop(prev.cid, None)
    return w, inv


def check_any(w: World, inv: Token) -> list[Token]:
    return authorize(
        inv,
        Request(
            verifier=BOB.did, sender=inv.iss, cmd="naming.Republish", needs=REPUBLISH, args=ARGS
        ),
        resolve=w.tokens.get,
        now=NOW,
        revoked=w.revoked.__contains__,
        replays=w.replays,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(1, 5))
def test_clean_chains_are_always_accepted(length):
    w, inv = build(length, None, 0)
    assert len(check_any(w, inv)) == length


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(1, 5), defect=st.sampled_from(DEFECTS), data=st.data())
def test_one_defect_anywhere_is_always_rejected(length, defect, data):
    lowest = 1 if defect == "widen" else 0
    if defect == "widen" and length == 1:
        length = 2
    at = data.draw(st.integers(lowest, length - 1))
    w, inv = build(length, defect, at)
    with pytest.raises(E.AuthError):
        check_any(w, inv)


def test_a_proof_must_be_a_link_not_text():
    t = delegate(OWNER, audience=APP.did, caps=[REPUBLISH], expires_in=60, now=NOW)
    payload = dict(parse_payload(t))
    payload["prf"] = [str(CID.decode(t.cid).encode())]
    body = make_block({"alg": "EdDSA", "p": payload, "s": t.sig}).data
    with pytest.raises(E.TokenMalformed, match="prf must be a list of CID links"):
        parse(t.to_bytes()[: -len(t.body)] + body)


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=2048))
def test_any_bytes_as_an_authorization_give_a_typed_error(junk):
    from peerkit.auth.guard import Guard, Requires
    from peerkit.naming.messages import Republish

    guard = Guard(BOB.did)
    with pytest.raises(E.AuthError):
        guard.check(
            junk or b"\x00",
            Republish(name="k51x", record=b""),
            "mem1",
            Requires("name/republish", on="name:{name}"),
        )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_tokens_give_a_typed_error(data):
    """Flip bytes anywhere in a valid container: always an AuthError, never a crash."""
    from peerkit.auth.guard import Guard, Requires, pack

    w = World()
    root, leaf, inv = chain(w)
    container = bytearray(pack([inv, leaf, root]))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(container) - 1))
        container[i] = data.draw(st.integers(0, 255))
    guard = Guard(BOB.did, clock=lambda: NOW)
    from peerkit.naming.messages import Republish

    try:
        guard.check(
            bytes(container),
            Republish(name="k51x", record=b""),
            "mem1",
            Requires("name/republish", on="name:{name}"),
        )
    except E.AuthError:
        pass


def test_a_requirement_naming_a_missing_field_fails_at_start():
    from peerkit import Actor, Context, Node, PeerConfig, Request, handler
    from peerkit.auth.guard import Requires

    class Thing(Request, tag="test.auth.Thing"):
        name: str

    class Typo(Actor):
        @handler(requires=Requires("x/y", on="x:{nmae}"))
        async def thing(self, msg: Thing, ctx: Context) -> None:
            return None

    node = Node(PeerConfig(transport="memory"))  # not started: spawning alone routes
    with pytest.raises(ValueError, match=r"\{nmae\} is not a field of Thing"):
        node.spawn(Typo)


def test_revocations_are_bounded():
    from peerkit.auth.revocations import Revocations

    clock = [float(NOW)]
    r = Revocations(clock=lambda: clock[0], limit=3)
    issuer = ed(20)
    grants = [
        delegate(issuer, audience=APP.did, caps=[REPUBLISH], expires_in=100 + i, now=NOW)
        for i in range(5)
    ]
    for g in grants:
        r.accept(revoke(issuer, g).to_bytes(), g.to_bytes())
    # the two expiring first were dropped to stay within the limit
    assert [g.cid in r for g in grants] == [False, False, True, True, True]
    old = delegate(issuer, audience=APP.did, caps=[REPUBLISH], expires_in=10, now=NOW - 1000)
    with pytest.raises(E.Expired, match="its revocation is not needed"):
        r.accept(revoke(issuer, old).to_bytes(), old.to_bytes())


def test_an_invocation_names_exactly_one_proof():
    from peerkit.auth.tokens import INVOCATION, _sign

    w = World()
    root, leaf, inv = chain(w)
    payload = dict(parse_payload(inv))
    payload["prf"] = [CID.decode(leaf.cid), CID.decode(root.cid)]
    with pytest.raises(E.TokenMalformed, match="prf"):
        _sign(INVOCATION, APP, payload)
