"""py-libp2p is imported without the parts peerkit never enables, and nobody else is cheated of
them: each case runs in a fresh interpreter, since this one has imported libp2p already."""

from __future__ import annotations

from tests.fresh import run_fresh as run


def test_the_transport_leaves_the_unused_parts_unimported_and_the_real_ones_importable() -> None:
    out = run(
        """
        import json, sys
        import peerkit._transport.libp2p
        from peerkit._transport._lean_libp2p import UNUSED_PARTS
        left = sorted(
            n for n in sys.modules for part in UNUSED_PARTS
            if n == part or n.startswith(part + ".")
        )
        # an app's own service imports them later: the real packages and modules
        import requests, httpx
        from libp2p.kad_dht import kad_dht
        print(json.dumps({"left": left,
                          "files": [requests.__file__, httpx.__file__, kad_dht.__file__],
                          "client": httpx.Client.__module__,
                          "dht": kad_dht.KadDHT.__module__}))
        """
    )
    assert out["left"] == []
    assert all(f and "site-packages" in f for f in out["files"])  # a stand-in has no file
    assert out["client"].startswith("httpx")  # not peerkit._transport._lean_libp2p
    assert out["dht"] == "libp2p.kad_dht.kad_dht"


def test_a_stand_in_fails_loudly_when_called() -> None:
    out = run(
        """
        import json
        import peerkit._transport.libp2p
        from peerkit._transport._lean_libp2p import UnusedLibp2pPart
        import libp2p                 # its names for the unused parts are bound to stand-ins
        try:
            libp2p.QUICTransport(None)
            outcome = "called"
        except UnusedLibp2pPart as exc:
            outcome = str(exc)
        print(json.dumps({"outcome": outcome}))
        """
    )
    assert "QUIC" in out["outcome"] and "not loaded by peerkit" in out["outcome"]


def test_a_package_imported_before_is_used_as_it_is() -> None:
    out = run(
        """
        import json, sys
        import requests
        import peerkit._transport.libp2p
        from libp2p.security.tls.autotls import broker
        print(json.dumps({"same": broker.requests is requests}))
        """
    )
    assert out["same"] is True


def test_rsa_keys_are_peerkits_and_read_and_write_what_pycryptodome_does() -> None:
    """py-libp2p's RSA module is replaced by one on `cryptography`: PyCryptodome (and cffi's C
    parser) are never loaded, and keys, signatures and peer ids are byte for byte those of
    py-libp2p's own module (PyCryptodome is still installed: py-libp2p depends on it)."""
    out = run(
        """
        import json, sys
        import peerkit._transport.libp2p
        from libp2p.crypto import rsa
        from libp2p.crypto.serialization import deserialize_public_key
        from libp2p.peer.id import ID
        loaded = sorted(m for m in ("Crypto", "cffi", "pycparser") if m in sys.modules)

        from Crypto.Hash import SHA256
        from Crypto.PublicKey import RSA
        from Crypto.Signature import pkcs1_15
        theirs = RSA.generate(2048)
        their_public = theirs.publickey().export_key("DER")  # what py-libp2p sends
        their_signature = pkcs1_15.new(theirs).sign(SHA256.new(b"hello"))

        mine = rsa.RSAPrivateKey.from_bytes(theirs.export_key("DER"))
        public = rsa.RSAPublicKey.from_bytes(their_public)
        my_signature = mine.sign(b"hello")
        try:
            pkcs1_15.new(theirs.publickey()).verify(SHA256.new(b"hello"), my_signature)
            they_verify = True
        except ValueError:
            they_verify = False
        received = deserialize_public_key(rsa.RSAPublicKey.from_bytes(their_public).serialize())
        print(json.dumps({
            "module": rsa.__file__,
            "loaded": loaded,
            "same_public": mine.get_public_key().to_bytes() == their_public,
            "same_private": mine.to_bytes() == theirs.export_key("DER"),
            "same_signature": my_signature == their_signature,
            "we_verify": public.verify(b"hello", their_signature),
            "we_refuse": public.verify(b"hellx", their_signature),
            "they_verify": they_verify,
            "same_id": ID.from_pubkey(received) == ID.from_pubkey(mine.get_public_key()),
        }))
        """
    )
    assert out.pop("module").endswith("peerkit/_transport/_libp2p_rsa.py")
    assert out.pop("loaded") == []
    assert out == {
        "same_public": True,
        "same_private": True,
        "same_signature": True,  # PKCS#1 v1.5 signatures are deterministic
        "we_verify": True,
        "we_refuse": False,
        "they_verify": True,
        "same_id": True,
    }


def test_an_rsa_key_above_4096_bits_is_refused_as_py_libp2p_refuses_it() -> None:
    out = run(
        """
        import json
        import peerkit._transport.libp2p
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa as crsa
        from libp2p.crypto import rsa
        from libp2p.crypto.exceptions import CryptographyError
        n = (1 << 8191) | 1  # a 8192-bit modulus: only its size is looked at before refusing
        big = crsa.RSAPublicNumbers(65537, n).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        try:
            rsa.RSAPublicKey.from_bytes(big)
            outcome = "accepted"
        except CryptographyError as exc:
            outcome = str(exc)
        print(json.dumps({"outcome": outcome}))
        """
    )
    assert "exceeds maximum allowed size 4096" in out["outcome"]


def test_the_websocket_transport_loads_when_a_peer_first_uses_it() -> None:
    """py-libp2p imports its WebSocket transport at start-up and again where it builds one:
    a peer without a /ws address never loads it (trio-websocket, wsproto, h11: ~2 MB); two
    peers listening on /ws connect over it, with the real transport."""
    out = run(
        """
        import asyncio, json, sys
        import peerkit._transport.libp2p
        WS = ("trio_websocket", "wsproto", "libp2p.transport.websocket")
        before = sorted(m for m in WS if m in sys.modules)
        from peerkit import Node, PeerConfig

        async def main():
            ws_only = ["/ip4/127.0.0.1/tcp/0/ws"]
            a = Node(PeerConfig(name="a", log_level="warning", listen=ws_only))
            b = Node(PeerConfig(name="b", log_level="warning", listen=ws_only))
            async with a, b:
                address = next(x for x in a.addrs() if "/ws/" in x)
                connected = await b.connect(address) == a.peer_id
            from libp2p.transport.websocket.transport import WebsocketTransport
            # the name py-libp2p's package bound at its first import stays a stand-in: it
            # says where the real one is
            import libp2p.transport
            from peerkit._transport._lean_libp2p import UnusedLibp2pPart
            try:
                libp2p.transport.WebsocketTransport(None)
                stand_in = "called"
            except UnusedLibp2pPart as exc:
                stand_in = str(exc)
            print(json.dumps({"before": before, "stand_in": stand_in,
                              "after": sorted(m for m in WS if m in sys.modules),
                              "connected": connected,
                              "transport": WebsocketTransport.__module__}))

        asyncio.run(main())
        """
    )
    assert "loads on first use: import it from its own module" in out.pop("stand_in")
    assert out == {
        "before": [],
        "after": ["libp2p.transport.websocket", "trio_websocket", "wsproto"],
        "connected": True,
        "transport": "libp2p.transport.websocket.transport",
    }


def test_dns_names_resolve_with_dnspython_loaded_only_when_first_asked() -> None:
    """py-libp2p builds DNS resolvers at start-up: multiaddr's module (and dnspython, ~2.6 MB)
    is loaded when one first resolves (peerkit/_transport/_lazy_dns.py), and resolves as its
    own: here a /dns4 name, against a name server on 127.0.0.1 that knows it."""
    out = run(
        """
        import json, socket, sys, threading
        import peerkit._transport.libp2p
        from libp2p.network import swarm
        from multiaddr import Multiaddr
        from multiaddr.resolvers import DNSResolver
        resolver = DNSResolver()  # as py-libp2p's swarm builds one at start-up
        loaded_at_start = sorted(m for m in ("dns", "multiaddr.resolvers._dnspython")
                                 if m in sys.modules)

        import dns.message, dns.rrset, trio

        def serve(sock):
            while True:
                query, client = sock.recvfrom(512)
                request = dns.message.from_wire(query)
                reply = dns.message.make_response(request)
                question = request.question[0]
                if question.rdtype == 1 and question.name.to_text() == "peer.test.":
                    reply.answer.append(
                        dns.rrset.from_text("peer.test.", 60, "IN", "A", "10.77.0.5"))
                sock.sendto(reply.to_wire(), client)

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        threading.Thread(target=serve, args=(sock,), daemon=True).start()
        # multiaddr's resolver's own dnspython resolver (built now), asked at our server
        resolver._resolver.nameservers = ["127.0.0.1"]
        resolver._resolver.port = sock.getsockname()[1]
        resolved = trio.run(resolver.resolve, Multiaddr("/dns4/peer.test/tcp/4001"))
        print(json.dumps({
            "loaded_at_start": loaded_at_start,
            "swarm_uses": swarm.DNSResolver is DNSResolver,
            "resolved": [str(m) for m in resolved],
            "by": type(resolver._loaded).__module__,
        }))
        """
    )
    assert out == {
        "loaded_at_start": [],
        "swarm_uses": True,
        "resolved": ["/ip4/10.77.0.5/tcp/4001"],
        "by": "multiaddr.resolvers._dnspython",
    }
