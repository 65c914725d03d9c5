"""Listen, announced and dialable addresses (peerkit.addresses)."""

import socket

import pytest

from peerkit.addresses import AddressError, announced, names_peer, parse, port_in_use

PEER = "12D3KooWFzF6DMrzhYQbEEPiyBLLAwhdrfyS3hLDmtaU7XEcaU8F"
IFACES = {"ip4": ["10.77.1.2", "127.0.0.1"], "ip6": ["fd00::2", "::1"]}


def test_unspecified_addresses_are_announced_as_each_interface():
    got = announced(["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001"], [], IFACES)
    assert got == [
        "/ip4/10.77.1.2/tcp/4001",
        "/ip4/127.0.0.1/tcp/4001",
        "/ip6/fd00::2/tcp/4001",
        "/ip6/::1/tcp/4001",
    ]
    assert not any("0.0.0.0" in a or "/::/" in a for a in got)


def test_announce_comes_first_and_nothing_twice():
    got = announced(
        ["/ip4/10.77.1.2/tcp/4001", "/ip4/0.0.0.0/tcp/4001"],
        ["/dns4/app.example.org/tcp/443/ws", "/ip4/203.0.113.7/tcp/4001"],
        IFACES,
    )
    assert got[:2] == ["/dns4/app.example.org/tcp/443/ws", "/ip4/203.0.113.7/tcp/4001"]
    assert got.count("/ip4/10.77.1.2/tcp/4001") == 1


def test_the_machines_interfaces_expand_a_real_listen_address():
    got = announced(["/ip4/0.0.0.0/tcp/1"], [])
    assert got and "/ip4/127.0.0.1/tcp/1" in got and not any("0.0.0.0" in a for a in got)


@pytest.mark.parametrize(
    "bad", ["", "tcp/1", "/ip4/1.2.3.4", "/ip4/1.2.3.4/udp/1", "/ip4/1.2.3.4/tcp/1/p2p/nope"]
)
def test_malformed_addresses_are_typed_errors(bad):
    with pytest.raises(AddressError):
        parse(bad)


def test_a_registered_address_must_name_its_peer():
    assert names_peer(f"/ip4/192.0.2.1/tcp/1/p2p/{PEER}", PEER)
    other = "12D3KooWPvamDnaZ7KPGMuirEgGss6mVr9d9Xe5W5FcL9PRafXSr"
    assert not names_peer(f"/ip4/192.0.2.1/tcp/1/p2p/{other}", PEER)
    assert not names_peer(f"/ip4/192.0.2.1/udp/1/p2p/{PEER}", PEER)
    assert names_peer(f"/memory/n0/p2p/{PEER}", PEER)


def test_a_port_in_use_is_found_before_binding():
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as py-libp2p binds
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert "listens there" in port_in_use(f"/ip4/127.0.0.1/tcp/{port}")
    assert port_in_use(f"/ip4/127.0.0.1/tcp/{port}") is None
    assert port_in_use("/ip4/127.0.0.1/tcp/0") is None
    assert "no interface" in port_in_use("/ip4/192.0.2.77/tcp/4001")


def test_dial_order_public_then_this_lan_then_relays_then_other_lans():
    import ipaddress

    from peerkit.addresses import dial_order

    lan = [ipaddress.ip_network("10.77.1.0/24"), ipaddress.ip_network("127.0.0.0/8")]
    relay = f"/ip4/198.18.0.11/tcp/4001/p2p/{PEER}/p2p-circuit/p2p/{PEER}"
    addrs = [
        "/ip4/10.77.2.2/tcp/1",  # another home's LAN: only times out
        relay,
        "/ip4/127.0.0.1/tcp/1",
        "/ip4/10.77.1.9/tcp/1",  # our LAN
        "/ip4/203.0.113.5/tcp/1",  # documentation range: not global, not ours
        "/ip4/8.8.8.8/tcp/1",
        "/dns4/app.example.org/tcp/1",
    ]
    assert dial_order(addrs, lan) == [
        "/ip4/8.8.8.8/tcp/1",
        "/dns4/app.example.org/tcp/1",
        "/ip4/127.0.0.1/tcp/1",
        "/ip4/10.77.1.9/tcp/1",
        relay,
        "/ip4/10.77.2.2/tcp/1",
        "/ip4/203.0.113.5/tcp/1",
    ]


def test_relayed_addresses_are_checked_as_their_relays():
    from peerkit.addresses import parse_dialable

    relayed = parse_dialable(f"/ip4/198.18.0.11/tcp/4001/p2p/{PEER}/p2p-circuit/p2p/{PEER}")
    assert relayed.peer_id == PEER and relayed.host == "198.18.0.11"
    for bad in (
        f"/ip4/198.18.0.11/tcp/4001/p2p-circuit/p2p/{PEER}",
        f"/ip4/1.1.1.1/tcp/1/p2p/{PEER}/p2p-circuit",
    ):
        with pytest.raises(AddressError):
            parse_dialable(bad)
