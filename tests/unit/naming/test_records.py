from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from peerkit.naming.log import NameLog, NameRevoked
from peerkit.naming.records import (
    MAX_RECORD,
    BadSignature,
    Equivocation,
    RecordError,
    RecordExpired,
    RecordTooLarge,
    create_record,
    format_validity,
    name_for,
    parse_validity,
    pubkey_of,
    verify_record,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.from_private_bytes(b"\x42" * 32)
NAME = name_for(KEY)


def rec(seq, *, key=KEY, now=NOW, value=b"/ipfs/bafkqaaa", **kw):
    return create_record(key, value, seq, now=now, **kw)


def test_name_round_trip():
    assert NAME.startswith("k51")
    assert pubkey_of(NAME) == KEY.public_key().public_bytes_raw()


def test_create_and_verify():
    r = verify_record(NAME, rec(7), now=NOW)
    assert (r.sequence, r.value, r.revoked) == (7, b"/ipfs/bafkqaaa", False)
    assert r.validity == NOW + timedelta(hours=24)


def test_validity_is_rfc3339_in_utc_with_nanoseconds_as_go_writes_it():
    t = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    assert format_validity(t) == b"2026-11-23T01:02:03.456789000Z"
    assert parse_validity(format_validity(t)) == t
    assert parse_validity(b"2026-11-23T01:02:03.123456789Z").microsecond == 123456  # cut
    assert parse_validity(b"0999-01-02T00:00:00Z").year == 999
    assert format_validity(datetime(999, 1, 2, tzinfo=UTC)).startswith(b"0999-")


@pytest.mark.parametrize(
    "bad",
    [
        b"2026-11-23T00:00:00Z\n",  # a trailing newline is not part of a timestamp
        b"2026-11-23T00:00:00+00:00",  # UTC only, written Z
        b"2026-11-23 00:00:00Z",
        "\u0662\u0660\u0662\u0666-11-23T00:00:00Z".encode(),  # digits, but not ASCII ones
        b"2026-02-30T00:00:00Z",  # the form of a date, not a real one
        b"2026-11-23T00:00:00.1234567890Z",
    ],
)
def test_a_validity_that_is_not_strict_rfc3339_utc_is_refused(bad):
    with pytest.raises(RecordError):
        parse_validity(bad)


def test_independent_ipns_validator_accepts_our_records():
    from libp2p.records.ipns import IPNSValidator

    from peerkit.naming.records import peer_id_for

    IPNSValidator(check_expiration=False).validate("/ipns/" + peer_id_for(KEY), rec(1))


def test_size_is_checked_before_parsing():
    junk = b"\xff" * (MAX_RECORD + 1)  # would be a protobuf error if it were parsed
    with pytest.raises(RecordTooLarge, match="not parsed"):
        verify_record(NAME, junk, now=NOW)


def test_record_for_another_key_is_refused():
    other = Ed25519PrivateKey.from_private_bytes(b"\x43" * 32)
    with pytest.raises(BadSignature):
        verify_record(NAME, rec(1, key=other), now=NOW)


def test_expiry_with_clock_skew_at_the_edge():
    raw = rec(1, lifetime=timedelta(hours=1))
    edge = NOW + timedelta(hours=1)
    verify_record(NAME, raw, now=edge + timedelta(seconds=30))  # within the skew allowance
    with pytest.raises(RecordExpired):
        verify_record(NAME, raw, now=edge + timedelta(seconds=30, microseconds=1))
    verify_record(NAME, raw, now=edge + timedelta(days=9), check_expiry=False)  # history


def test_selection_and_equivocation():
    log = NameLog(NAME)
    a = verify_record(NAME, rec(1), now=NOW)
    b = verify_record(NAME, rec(2), now=NOW)
    assert log.add(b) and log.add(a)
    assert log.head() is b and log.next_sequence == 3
    later = verify_record(NAME, rec(2, now=NOW + timedelta(hours=1)), now=NOW)
    assert later.better_than(b)  # same sequence: the later validity wins selection...
    with pytest.raises(Equivocation):
        log.add(later)  # ...but two records with one sequence from one key are equivocation
    assert not log.add(a)  # the same record again is not new
    assert [r.sequence for r in log.history()] == [1, 2]


def test_revocation_is_final():
    log = NameLog(NAME)
    log.add(verify_record(NAME, rec(1), now=NOW))
    log.add(verify_record(NAME, rec(3), now=NOW))
    log.add(verify_record(NAME, rec(2, revoked=True, successor="k51x"), now=NOW))
    assert log.revoked_at == 2 and log.head().revoked and log.head().successor == "k51x"
    assert log.at(3) is None  # a record after the revocation is void
    with pytest.raises(NameRevoked):
        log.add(verify_record(NAME, rec(4), now=NOW))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_records_are_never_accepted(data):
    original = rec(5)
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    assume(bytes(raw) != original)  # two flips of one byte can cancel out
    with pytest.raises(RecordError):
        verify_record(NAME, bytes(raw), now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_never_crashes_the_verifier(blob):
    with pytest.raises(RecordError):
        verify_record(NAME, blob, now=NOW)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=64, max_size=64),
    st.binary(max_size=MAX_RECORD),
    st.sampled_from([b"", b"\x01", b"\x80", b"\x80\x00", b"\xff\x7f", b"\x10\x02xy"]),
)
def test_the_fast_field_reader_agrees_with_the_general_one(signature, data, tail):
    # Records laid out as peerkit writes them are sliced without the general protobuf reader:
    # whatever it slices must be what the strict reader reads, and what it cannot (a length
    # that is not minimal, a field more, bytes missing) must go to the strict reader.
    from peerkit.naming.records import _parse_protobuf, _signature_and_data

    for raw in (
        _field(8, signature) + _field(9, data),
        _field(8, signature) + _field(9, data) + tail,
    ):
        try:
            general = _parse_protobuf(raw)
        except RecordError:
            with pytest.raises(RecordError):
                _signature_and_data(raw)
            continue
        assert _signature_and_data(raw) == (general.get(8), general.get(9))
    # a length written in two bytes where one would do is not sliced: the strict reader decides
    padded = b"\x42\x40" + signature + b"\x4a" + bytes([0x80 | len(data[:5]), 0]) + data[:5]
    with pytest.raises(RecordError):
        _signature_and_data(padded)


def _field(number, payload):
    from peerkit.wire import encode_uvarint

    return encode_uvarint(number << 3 | 2) + encode_uvarint(len(payload)) + payload
