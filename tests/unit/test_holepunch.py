"""What another peer's DCUtR message may make us dial (peerkit/_transport/_holepunch.py)."""

from multiaddr import Multiaddr

from peerkit._transport._holepunch import HolePunching, punchable


def test_only_public_tcp_addresses_are_punchable():
    assert punchable(Multiaddr("/ip4/93.184.216.7/tcp/4001"))
    assert punchable(Multiaddr("/ip6/2001:db8::1/tcp/4001")) is False  # documentation range
    assert punchable(Multiaddr("/ip6/2a01:4f8::1/tcp/4001"))
    for addr in [
        "/ip4/10.0.0.1/tcp/4001",  # someone's LAN (ours, maybe)
        "/ip4/127.0.0.1/tcp/4001",
        "/ip4/169.254.1.1/tcp/4001",
        "/ip4/93.184.216.7/udp/4001",
        "/ip4/93.184.216.7/tcp/4001/ws",
        "/dns4/example.com/tcp/4001",
    ]:
        assert not punchable(Multiaddr(addr)), addr


def test_a_connect_message_yields_at_most_eight_usable_addresses():
    many = [Multiaddr(f"/ip4/93.184.216.{i}/tcp/4001").to_bytes() for i in range(1, 40)]
    junk = [b"\xff\xff", b"", Multiaddr("/ip4/10.0.0.1/tcp/1").to_bytes()]
    decode = HolePunching._decode_observed_addrs
    got = decode(None, junk + many)  # type: ignore[arg-type]
    assert len(got) == 8
    assert all(punchable(a) for a in got)
    assert decode(None, junk) == []  # type: ignore[arg-type]
