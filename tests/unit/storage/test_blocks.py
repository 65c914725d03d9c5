import contextlib
import shutil
import struct
import sysconfig
from pathlib import Path

import cbrrr
import libipld
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peerkit import blocks
from peerkit.blocks import (
    CID,
    cid_for,
    decode,
    encode,
    links,
    make_block,
    parse_cid,
    raw_block,
    verify,
)
from peerkit.storage.errors import CorruptBlock, InvalidCID, NotCanonical

# Fixed vectors: the CIDs IPFS (Kubo, js multiformats) gives the same data.
VECTORS = [
    ({"hello": "world"}, "bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae"),
]


@pytest.mark.parametrize(("obj", "cid"), VECTORS)
def test_dag_cbor_vectors(obj, cid):
    assert make_block(obj).cid.encode() == cid


def test_raw_vector():
    assert raw_block(b"hello").cid.encode() == (
        "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
    )


def test_integral_floats_are_written_as_integers_like_javascript():
    assert encode({"a": 2.0}) == encode({"a": 2})
    assert encode([-0.0]) == encode([0])
    assert decode(encode({"a": 1.5})) == {"a": 1.5}
    # only safe integers, as JavaScript's Number.isSafeInteger: 2^53 stays a float
    assert encode(float(2**53 - 1)) == encode(2**53 - 1)
    assert decode(encode(float(2**53))) == float(2**53)
    assert isinstance(decode(encode(1e16)), float)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 2**64, {1: "x"}])
def test_unhashable_values_are_refused(bad):
    with pytest.raises(NotCanonical):
        encode({"v": bad})


def test_bytes_that_look_like_a_cid_stay_bytes():
    cid = make_block({"x": 1}).cid
    as_bytes = make_block({"v": cid.cid_bytes})
    as_link = make_block({"v": cid})
    assert as_bytes.cid != as_link.cid
    assert links(as_bytes) == [] and links(as_link) == [cid]
    assert decode(as_bytes.data) == {"v": cid.cid_bytes}


@pytest.mark.parametrize(
    "hex_data",
    [
        "a2616202616101",  # map keys out of order
        "1801",  # integer not minimally encoded
        "a16161",  # truncated
        "01ff",  # trailing bytes
        "9f01ff",  # indefinite-length array
        "c10a",  # a tag other than 42
    ],
)
def test_non_canonical_blocks_are_rejected(hex_data):
    with pytest.raises(NotCanonical):
        decode(bytes.fromhex(hex_data))


def test_verify_catches_corruption():
    block = make_block({"x": 1})
    assert verify(block.cid, block.data) == block
    with pytest.raises(CorruptBlock):
        verify(block.cid, block.data + b"\x00")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "zzz",
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdX0",  # not base58 (0)
        b"\x01",
        "bafk2bzacecmnyfiwb52tkbwmm2dsd7ysi3nvuxl3lmspy7pl26wxj4zj7w4wi",  # blake2b
    ],
)
def test_invalid_cids(bad):
    with pytest.raises(InvalidCID):
        parse_cid(bad)


def test_a_cidv0_is_read_as_the_cidv1_of_the_same_block():
    # Kubo's Qm... names a DAG-PB block by its bare sha2-256: one store key for both forms
    cid = parse_cid("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn")  # the empty directory
    assert cid.encode() == "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"


def test_cid_round_trip():
    cid = make_block([1, 2, 3]).cid
    assert parse_cid(cid.encode()) == cid
    assert parse_cid(cid.cid_bytes) == cid
    assert isinstance(cid, CID)


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text()
    | st.binary(max_size=40)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=20,
)


def _to_libipld(obj):
    """libipld's view of the same value (integral floats as ints: our rule)."""
    if isinstance(obj, float) and obj.is_integer() and abs(obj) <= 2**53 - 1:
        return int(obj)
    if isinstance(obj, dict):
        return {k: _to_libipld(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_libipld(v) for v in obj]
    return obj


@given(json_like)
def test_bytes_identical_to_an_independent_implementation(obj):
    ours = encode(obj)
    try:
        theirs = libipld.encode_dag_cbor(_to_libipld(obj))
    except ValueError:
        return  # libipld turns CID-shaped bytes into links: the trap we avoid
    if b"\xd8\x2a" in theirs and b"\xd8\x2a" not in ours:
        return
    assert ours == theirs
    assert cid_for(ours) == make_block(obj).cid


def _reference(obj):
    """The float rule, written the plain way: what encode's faster walk must agree with."""
    if isinstance(obj, float):
        return int(obj) if obj.is_integer() and abs(obj) <= 2**53 - 1 else obj
    if isinstance(obj, dict):
        return {k: _reference(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_reference(v) for v in obj]
    return obj


@pytest.mark.parametrize(
    "obj",
    [
        [0.5, 1.5, 2.0],  # an all-float list with one integral value
        [0.5, 1, "x", 3.0, None, True],  # a mixed list
        {"a": [[0.25, [4.0]], {"b": -0.0}], "c": b"\xfb\x00" * 5},
        [float(i) / 8 for i in range(300)],  # many floats, some integral
        [i / 7 + 0.5 for i in range(300)],  # many floats, none integral
        {"nested": {"deeper": {"deepest": [1e16, 2.0**53, 7.0]}}},
    ],
)
@pytest.mark.parametrize("path", ["C helper", "Python"])
def test_the_float_rule_holds_in_every_container(obj, path):
    with _float_rule_in(path):
        assert encode(obj) == cbrrr.encode_dag_cbor(_reference(obj))


# The float rule has two implementations that must give the same bytes: peerkit's C helper
# (peerkit/_cbor_floats.c, rewriting the encoded bytes) and the walk over the value in Python
# (installs without a C compiler).
_c_helper = blocks._floats_as_integers


@contextlib.contextmanager
def _float_rule_in(path):
    if path == "C helper" and _c_helper is None:
        pytest.skip("peerkit's C helper is not built in this install")
    blocks._floats_as_integers = _c_helper if path == "C helper" else None
    try:
        yield
    finally:
        blocks._floats_as_integers = _c_helper


def test_the_c_helper_is_built_where_a_compiler_is():
    # make test on a machine with a C compiler (CI's) exercises the C path, not only Python
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("cc") is None or not headers.exists():
        pytest.skip("no C compiler or Python headers here: the Python path serves")
    assert _c_helper is not None, "peerkit/_cbor_floats.c was not built: run make again"


_finite = st.floats(allow_nan=False, allow_infinity=False)
_leaves = st.one_of(
    _finite,
    st.integers(-100, 100).map(float),  # integral floats, often
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=5),
    st.binary(max_size=12),  # 0xfb inside bytes: a head that is no float
    st.none(),
    st.booleans(),
)
_values = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=40,
)


@pytest.mark.parametrize("path", ["C helper", "Python"])
@given(obj=_values)
def test_the_float_rule_holds_on_any_value(path, obj):
    with _float_rule_in(path):
        assert encode(obj) == cbrrr.encode_dag_cbor(_reference(obj))


# Values whose encoding holds 0xfb bytes that head no float: inside links (hash bytes), in
# integer arguments, in long strings' lengths, and floats of every head size around them.
_tricky_leaves = st.one_of(
    _finite,
    st.integers(-(2**53), 2**53).map(float),
    st.sampled_from([2.0**53, -(2.0**53), 2.0**53 - 1, -(2.0**53 - 1), -0.0, 1e300, 5e-324]),
    st.sampled_from([23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32]).flatmap(
        lambda n: st.sampled_from([float(n), float(-n), float(-n - 1)])
    ),
    st.integers(0, 2**64 - 1).map(lambda n: n | 0xFB),
    st.binary(max_size=300).map(lambda b: b + b"\xfb\x00" * 5),
    st.text(alphabet="\u00fb\u01fb", max_size=200),
    st.binary(min_size=32, max_size=32).map(lambda h: CID(b"\x01\x71\x12\x20" + h)),
)
_tricky_values = st.recursive(
    _tricky_leaves,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=40,
)


@given(_tricky_values)
def test_the_c_helper_gives_the_bytes_of_the_normalised_value(obj):
    if _c_helper is None:
        pytest.skip("peerkit's C helper is not built in this install")
    data = cbrrr.encode_dag_cbor(obj)
    assert _c_helper(data) == cbrrr.encode_dag_cbor(_reference(obj))


def test_the_c_helper_returns_the_same_bytes_when_nothing_changes():
    if _c_helper is None:
        pytest.skip("peerkit's C helper is not built in this install")
    data = cbrrr.encode_dag_cbor({"x": [0.5, b"\xfb" * 9]})
    assert _c_helper(data) is data


@given(
    st.binary(max_size=64)
    | st.lists(
        st.sampled_from([b"\xfb", b"\x1b", b"\x5b", b"\x9f", b"\x00" * 8, b"\xff", b"\x7a"]),
        max_size=12,
    ).map(b"".join)
)
def test_the_c_helper_reads_any_bytes_safely(data):
    # it only ever sees cbrrr's output, but C must not read past the end of anything
    if _c_helper is None:
        pytest.skip("peerkit's C helper is not built in this install")
    try:
        out = _c_helper(data)
    except ValueError as exc:
        assert "not well-formed DAG-CBOR" in str(exc)
        return
    assert len(out) <= len(data)


def test_the_c_helper_refuses_what_cbrrr_never_writes():
    if _c_helper is None:
        pytest.skip("peerkit's C helper is not built in this install")
    for bad in [b"\x9f\xff", b"\x1c", b"\xfb\x00", b"\x59\x01", b"\x43ab"]:
        with pytest.raises(ValueError, match="not well-formed"):
            _c_helper(bad)
    with pytest.raises(TypeError):
        _c_helper(bytearray(b"\x00"))
    assert _c_helper(b"\xfb" + struct.pack(">d", 3.0)) == b"\x03"


def test_infinity_inside_a_list_of_floats_is_refused_saying_what_to_do():
    with pytest.raises(NotCanonical) as refused:
        encode([0.5, float("inf")])
    assert refused.value.hint is not None and "as strings" in refused.value.hint
