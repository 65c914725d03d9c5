"""Yamux receive credit as go-yamux grants it: one WINDOW_UPDATE once half the window is used.

py-libp2p 0.8.1's ``YamuxStream._auto_tune_and_send_window_update`` runs after every read and
has, besides go-yamux's rule, three more ways to send an update. One of them ("partial slack":
the window is short of its target by less than half) fires on nearly every small message and
credits the bytes just read *twice* (``delta + bytes_read``), so the window overshoots its
target and the next read finds it full; then the one after sends again. A request/reply stream
therefore carried three frames per round trip instead of two: the third a 12-byte update that
costs an encryption, a socket write, a read and a trio wake-up on each side, as much as a
message. ``PY_YAMUX_RELEASE_ON_READ=0`` turns off only the per-read update, not this one.

Here the credit follows go-yamux's ``sendWindowUpdate``: the update goes when what the
window lacks of its target (after what is still buffered) reaches the threshold (half the
target), and then it tops the window up to the target, with py-libp2p's own auto-tuning of the
target (doubling within 4 RTTs) kept as it is. Flow control is unchanged in kind: a sender
never waits on a reader that has read, since a window used down to zero always lacks more than
half its target once the reader takes the bytes out.

Installed process-wide on import, as the other py-libp2p adjustments in this package are
(``_gossip.py``); ``PY_YAMUX_RELEASE_ON_READ=1`` in the environment keeps py-libp2p's own
method (it asks for an update per read on purpose).
"""

from __future__ import annotations

import os

from libp2p.stream_muxer.yamux.yamux import YamuxStream

_LIBP2P_METHOD = YamuxStream._auto_tune_and_send_window_update


async def _credit_half_window(self: YamuxStream, *, bytes_read: int = 0) -> None:
    total = 0
    async with self.window_lock:
        buffered = len(self.conn.stream_buffers.get(self.stream_id, b""))
        lacking = self.target_recv_window - (self.recv_window + buffered)
        if lacking > 0 and lacking >= self._grow_threshold():
            self._window_update_full_grow += 1
            total = self._grow_to_delta(buffered) + self._apply_autotune_epoch(buffered)
    if total > 0:
        await self.send_window_update(total, skip_lock=True)


def install() -> None:
    """Use :func:`_credit_half_window` for every yamux stream of this process, unless the
    environment asks py-libp2p for an update per read."""
    per_read = os.environ.get("PY_YAMUX_RELEASE_ON_READ", "0").upper() not in ("0", "FALSE", "NO")
    YamuxStream._auto_tune_and_send_window_update = (  # type: ignore[method-assign]
        _LIBP2P_METHOD if per_read else _credit_half_window
    )
