"""structlog is imported without rich and greenlet (peerkit/_lean_structlog.py), and nobody
else is cheated of them; a peer's console log prints an exception as a plain traceback, without
the frames' local variables. Each case runs in a fresh interpreter: this one has imported
structlog already."""

from __future__ import annotations

from tests.fresh import run_fresh as run


def test_peerkit_leaves_rich_and_greenlet_unloaded_and_importable() -> None:
    out = run(
        """
        import json, sys
        import peerkit, peerkit.log
        held = sorted(m for m in ("rich", "pygments", "greenlet") if m in sys.modules)
        import rich.table, greenlet   # the CLI's tables, an app's SQLAlchemy: the real ones
        print(json.dumps({"held": held, "files": [rich.table.__file__, greenlet.__file__]}))
        """
    )
    assert out["held"] == []
    assert all("site-packages" in f for f in out["files"])


def test_structlog_imported_before_peerkit_is_left_as_it_is() -> None:
    out = run(
        """
        import json
        import structlog
        import peerkit
        print(json.dumps({"rich": structlog.dev.rich is not None}))
        """
    )
    assert out == {"rich": True}


def test_a_logged_exception_is_a_plain_traceback_without_locals() -> None:
    out = run(
        """
        import io, json
        import structlog
        from peerkit.log import processors
        stream = io.StringIO()
        log = structlog.wrap_logger(
            structlog.PrintLogger(stream), processors=processors(json=False, colors=False)
        )
        def sign():
            secret_key = "5ecret-k3y-bytes"
            raise ValueError("bad signature")
        try:
            sign()
        except ValueError:
            log.exception("request failed")
        print(json.dumps({"text": stream.getvalue()}))
        """
    )
    text = out["text"]
    assert "request failed" in text
    assert "Traceback (most recent call last):" in text and "ValueError: bad signature" in text
    assert "5ecret-k3y-bytes" not in text  # rich's formatter, as structlog sets it, shows locals
