import pytest

from peerkit.gateway.formats import (
    BadRequest,
    ByteRange,
    Unsatisfiable,
    content_type,
    parse_range,
    wanted_format,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", ByteRange(0, 10)),
        ("bytes=5-", ByteRange(5, 100)),
        ("bytes=-10", ByteRange(90, 100)),
        ("bytes=-500", ByteRange(0, 100)),
        ("bytes=90-1000", ByteRange(90, 100)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole body is a valid answer
        ("items=0-1", None),
        ("bytes=abc", None),
        ("bytes=9-3", None),
    ],
)
def test_ranges(header, expected):
    assert parse_range(header, 100) == expected


def test_a_range_past_the_end_is_unsatisfiable():
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=100-", 100)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=-0", 100)


def test_format_from_query_or_accept():
    assert wanted_format("raw", "") == "raw"
    assert wanted_format(None, "application/vnd.ipld.car; version=1") == "car"
    assert wanted_format(None, "text/html,*/*") is None
    with pytest.raises(BadRequest, match="format=tar"):
        wanted_format("tar", "")


def test_content_types_by_name_then_by_bytes():
    assert content_type("a.css", b"") == "text/css; charset=utf-8"
    assert content_type(None, b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert content_type(None, b"  <!DOCTYPE html><p>") == "text/html; charset=utf-8"
    assert content_type(None, b"<svg xmlns=...") == "image/svg+xml"
    assert content_type(None, "h\u00e9llo".encode()) == "text/plain; charset=utf-8"
    assert content_type(None, b"\x00\x01\x02binary") == "application/octet-stream"
    assert content_type(None, "caf\u00e9".encode()[:-1]) == "text/plain; charset=utf-8"
