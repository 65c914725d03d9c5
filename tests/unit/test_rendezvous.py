import pytest

from peerkit.rendezvous.registry import (
    InvalidCookie,
    InvalidNamespace,
    InvalidTTL,
    Registry,
    TooManyRegistrations,
)


def test_register_discover_and_expire_on_the_injected_clock():
    r = Registry()
    r.register("app/nodes", "peerA", ["/ip4/1.2.3.4/tcp/1/p2p/peerA"], ttl=10, now=0)
    r.register("app/nodes", "peerB", [], ttl=30, now=0)
    regs, _ = r.discover("app/nodes", now=5)
    assert [x.peer for x in regs] == ["peerA", "peerB"]
    regs, _ = r.discover("app/nodes", now=10)  # A expired exactly at its TTL
    assert [x.peer for x in regs] == ["peerB"]


def test_refresh_extends_a_registration():
    r = Registry()
    r.register("ns", "p", [], ttl=10, now=0)
    r.register("ns", "p", [], ttl=10, now=8)
    assert [x.peer for x in r.discover("ns", now=15)[0]] == ["p"]
    assert r.count("p") == 1


def test_pagination_with_cookies_returns_only_what_is_new():
    r = Registry()
    for i in range(5):
        r.register("ns", f"p{i}", [], ttl=60, now=0)
    page1, cookie = r.discover("ns", now=1, limit=2)
    page2, cookie = r.discover("ns", now=1, limit=2, cookie=cookie)
    page3, cookie = r.discover("ns", now=1, limit=2, cookie=cookie)
    assert [x.peer for x in page1 + page2 + page3] == [f"p{i}" for i in range(5)]
    assert r.discover("ns", now=1, cookie=cookie)[0] == []
    r.register("ns", "p9", [], ttl=60, now=2)
    assert [x.peer for x in r.discover("ns", now=2, cookie=cookie)[0]] == ["p9"]


@pytest.mark.parametrize("ns", ["", "x" * 256, "bad\nname"])
def test_namespace_limits(ns):
    with pytest.raises(InvalidNamespace):
        Registry().register(ns, "p", [], ttl=60, now=0)


@pytest.mark.parametrize("ttl", [0, 4.9, 72 * 3600 + 1])
def test_ttl_limits(ttl):
    with pytest.raises(InvalidTTL):
        Registry().register("ns", "p", [], ttl=ttl, now=0)


def test_registrations_per_peer_are_limited():
    r = Registry(max_per_peer=3)
    for i in range(3):
        r.register(f"ns{i}", "p", [], ttl=60, now=0)
    r.register("ns0", "p", [], ttl=60, now=0)  # a refresh is not a new registration
    with pytest.raises(TooManyRegistrations):
        r.register("ns9", "p", [], ttl=60, now=0)


def test_cookie_from_another_namespace_is_refused():
    r = Registry()
    _, cookie = r.discover("a", now=0)
    with pytest.raises(InvalidCookie):
        r.discover("b", now=0, cookie=cookie)
