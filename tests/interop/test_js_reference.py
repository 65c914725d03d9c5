"""Interop with the JavaScript reference implementations (docs/architecture: "interop is a
feature"): DAG-CBOR bytes and CIDs equal @ipld/dag-cbor + multiformats, Multiauth tokens are
blocks JavaScript decodes and re-encodes byte for byte, and DCS updates are Yjs v1 updates a Yjs
document reads (and writes) with the same text.

Needs Node.js and the npm registry (the packages are installed once into a cache folder); the
tests skip, saying why, when either is missing.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from peerkit.auth.principals import Ed25519Signer, WalletSigner
from peerkit.auth.tokens import Capability, delegate, invoke
from peerkit.blocks import encode, make_block
from peerkit.dcs.crypto import Identity
from peerkit.dcs.doc import SharedDoc
from peerkit.naming.keys import EthereumWallet
from tests.interop.npm import installed

JS = Path(__file__).parent / "js"
pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def js() -> Path:
    """A folder with the pinned packages installed and check.mjs beside them."""
    return installed(JS, "yjs", ["check.mjs"], timeout=180)


def run_js(folder: Path, **job) -> dict:
    job = {"encode": [], "blocks": [], "yjs_read": [], "yjs_write": [], **job}
    proc = subprocess.run(
        ["node", "check.mjs"],
        cwd=folder,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# JSON values JavaScript can hold exactly: integers within 2^53, finite floats
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    # one batch of 60 values per run (a node process each); PEERKIT_INTEROP_EXAMPLES for more
    max_examples=int(os.environ.get("PEERKIT_INTEROP_EXAMPLES", "3")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(st.lists(json_values, min_size=60, max_size=60))
def test_dag_cbor_bytes_and_cids_equal_the_js_reference(js, values):
    # -0.0 is the one value JSON cannot carry to JavaScript; it is covered by the fixed vectors
    values = [v for v in values if json.dumps(v) == json.dumps(json.loads(json.dumps(v)))]
    report = run_js(js, encode=[{"value": v} for v in values])
    for value, theirs in zip(values, report["encoded"], strict=True):
        block = make_block(value)
        assert block.data.hex() == theirs["hex"], value  # integral floats are integers in both
        assert block.cid.encode() == theirs["cid"], value


def test_blocks_with_bytes_links_and_tokens_round_trip_in_js(js):
    owner = Ed25519Signer.from_seed(b"\x01" * 32)
    wallet = WalletSigner(EthereumWallet(b"\x02" * 32))
    root = delegate(
        owner, audience=wallet.did, caps=[Capability("name:*", "name/*")], expires_in=60
    )
    leaf = delegate(
        wallet,
        audience=owner.did,
        caps=[Capability("name:x", "name/republish")],
        expires_in=60,
        proofs=[root],
    )
    inv = invoke(
        owner,
        audience=wallet.did,
        cmd="naming.Republish",
        capability=Capability("name:x", "name/republish"),
        args=b"\x00" * 32,
        proof=leaf,
    )
    child = make_block({"bytes": b"\x00\xff", "nested": [{"x": 1.5}]})
    parent = make_block({"child": child.cid, "list": [child.cid, b"", 2**63 - 1, -(2**63)]})
    blocks = [(child.data, child.cid.encode()), (parent.data, parent.cid.encode())]
    blocks += [(t.body, t.cid) for t in (root, leaf, inv)]
    report = run_js(js, blocks=[{"hex": data.hex()} for data, _ in blocks])
    for (_, cid), theirs in zip(blocks, report["blocks"], strict=True):
        assert theirs.get("same") is True, theirs
        assert theirs["cid"] == cid


def test_dcs_updates_are_yjs_updates_both_ways(js):
    me = Identity.from_seed(b"\x03" * 32)
    doc = SharedDoc.create(me)
    doc.insert(0, "héllo wörld")
    doc.insert(5, " 😀 ")
    doc.delete(0, 1)
    doc.insert(0, "Ĥ")
    ours = doc.crdt.get_update()
    report = run_js(
        js,
        yjs_read=[{"update": ours.hex()}],
        # Yjs counts UTF-16 code units: "😀" is 2 of them
        yjs_write=[
            {
                "ops": [
                    ["insert", 0, "naïve 😀 text"],
                    ["delete", 0, 1],
                    ["insert", 0, "N"],
                    ["insert", 9, "!"],
                ]
            }
        ],
    )
    assert report["yjs_read"][0]["text"] == doc.content() == "Ĥéllo 😀  wörld"
    theirs = report["yjs_written"][0]
    reader = Doc()
    reader.apply_update(bytes.fromhex(theirs["update"]))
    assert str(reader.get("text", type=Text)) == theirs["text"] == "Naïve 😀 !text"


def test_the_float_rule_matches_javascript_numbers(js):
    values = [
        {"a": 2.0},
        [1.0, 1.5, 1e16, 2.5e-8, -1e300],
        {"safe": 9007199254740991.0, "unsafe": 9007199254740992.0},
    ]
    report = run_js(js, encode=[{"value": v} for v in values])
    for value, theirs in zip(values, report["encoded"], strict=True):
        assert encode(value).hex() == theirs["hex"], value
