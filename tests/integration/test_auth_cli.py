"""`peerkit auth delegate|inspect|revoke` against a running peer process."""

import json

import pytest

from tests.integration.procs import PeerProcess, peerkit_cli

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


async def peerkit(*args, cwd):
    return await peerkit_cli(*args, cwd=cwd)


async def test_delegate_inspect_revoke(tmp_path):
    (tmp_path / "wallet.key").write_text("11" * 32 + "\n")
    (tmp_path / "other.key").write_text("22" * 32 + "\n")
    peer = await PeerProcess(tmp_path, "keeper").start()
    try:
        code, _, err = await peerkit(
            "auth",
            "delegate",
            "--wallet",
            "wallet.key",
            "--to",
            peer.peer_id,
            "--can",
            "name/republish",
            "--on",
            "name:*",
            "--for",
            "30d",
            "-o",
            "grant.tok",
            cwd=tmp_path,
        )
        assert code == 0, err
        code, out, err = await peerkit("auth", "inspect", "grant.tok", "--json", cwd=tmp_path)
        view = json.loads(out)
        assert view["kind"] == "delegation" and view["signature"] == "valid (EIP191)"
        assert view["caps"] == "name/republish on name:*"
        assert view["iss"].startswith("did:pkh:eip155:1:0x") and view["aud"].startswith("did:key")

        # the peer the grant is for can hold it; another peer's grant is refused
        code, out, err = await peerkit(
            "auth", "hold", "grant.tok", "--via", peer.addr, cwd=tmp_path
        )
        assert code == 0 and "holds" in out, err
        code, _, err = await peerkit(
            "auth",
            "delegate",
            "--wallet",
            "wallet.key",
            "--to",
            "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
            "--can",
            "name/republish",
            "--on",
            "name:*",
            "-o",
            "other.tok",
            cwd=tmp_path,
        )
        code, _, err = await peerkit("auth", "hold", "other.tok", "--via", peer.addr, cwd=tmp_path)
        assert code == 3 and "not this peer" in err and "Traceback" not in err

        # only the issuer may revoke
        code, _, err = await peerkit(
            "auth",
            "revoke",
            "grant.tok",
            "--wallet",
            "other.key",
            "--via",
            peer.addr,
            cwd=tmp_path,
        )
        assert code == 3 and "only the issuer" in err and "Traceback" not in err
        code, out, err = await peerkit(
            "auth",
            "revoke",
            "grant.tok",
            "--wallet",
            "wallet.key",
            "--via",
            peer.addr,
            cwd=tmp_path,
        )
        assert code == 0 and "revoked" in out, err
        code, out, err = await peerkit(
            "auth", "inspect", "grant.tok", "--via", peer.addr, cwd=tmp_path
        )
        assert code == 0, err
        assert any(line.split() == ["revoked", "yes"] for line in out.splitlines()), out

        code, _, err = await peerkit("auth", "inspect", "unot-a-token", cwd=tmp_path)
        assert code == 2 and "not a peerkit auth token" in err and "Traceback" not in err
    finally:
        peer.kill()
        await peer.wait_killed()
