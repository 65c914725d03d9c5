import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text

from peerkit.dcs import yjs


@given(st.dictionaries(st.integers(0, 2**53 - 1), st.integers(0, 2**32 - 1), max_size=20))
def test_state_vectors_round_trip_and_match_pycrdt(vector):
    assert yjs.decode_state_vector(yjs.encode_state_vector(vector)) == vector


def test_a_documents_state_and_an_updates_clients():
    a, b = Doc(client_id=7), Doc(client_id=300)
    a.get("text", type=Text).insert(0, "hello")
    b.apply_update(a.get_update())
    before = b.get_state()
    del b.get("text", type=Text)[0:2]  # deletes a's items, inserts nothing
    assert yjs.update_clients(b.get_update(before)) == set()
    b.get("text", type=Text).insert(0, "xy")
    assert yjs.state(b) == {7: 5, 300: 2}
    assert yjs.update_clients(b.get_update(before)) == {300}


@pytest.mark.parametrize("bad", [b"\x01", b"\x01\x80", b"\x00\x00", b"\x01" + b"\xff" * 11])
def test_malformed_state_vectors_are_typed_errors(bad):
    with pytest.raises(yjs.StateVectorError):
        yjs.decode_state_vector(bad)
