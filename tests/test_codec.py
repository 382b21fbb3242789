import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc import codec
from mpc.errors import CodecError, ProtocolError
from mpc.message import Message


@pytest.mark.parametrize("dtype", ["uint64", "int64", "float64", "uint8", "uint32", "int32"])
def test_arrays_roundtrip(dtype):
    a = (np.arange(24) - 7).astype(dtype).reshape(2, 3, 4)
    b = codec.decode(codec.encode({"x": a, "list": [a[0], 1, "s", None, 2.5, b"raw"]}))
    assert b["x"].dtype == a.dtype and np.array_equal(b["x"], a)
    assert np.array_equal(b["list"][0], a[0]) and b["list"][1:] == [1, "s", None, 2.5, b"raw"]


def test_message_roundtrip():
    m = Message(session=b"s" * 16, instance="sum#1", tag="share", sender=3, payload=np.arange(5, dtype=np.uint64))
    m2 = Message.from_bytes(m.to_bytes())
    assert (m2.session, m2.instance, m2.tag, m2.sender) == (m.session, m.instance, m.tag, m.sender)
    assert np.array_equal(m2.payload, m.payload)


def frame(obj, body=b""):
    """Wire framing by hand: uint32 envelope length, msgpack envelope, raw array bodies."""
    env = msgpack.packb(obj, use_bin_type=True)
    return len(env).to_bytes(4, "little") + env + body


def _ext(code, header, body=b""):
    return frame(msgpack.ExtType(code, header), body)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x00\x00\x00\xc1",  # never-used msgpack byte
        b"\x02\x00\x00\x00\x92\x01",  # truncated array
        b"\xff\x00\x00\x00\x90",  # envelope length past the end
        _ext(9, b"x"),  # unknown ext type
        _ext(1, b"\x63\x01" + b"\x01\x00\x00\x00", bytes(8)),  # unknown dtype code
        _ext(1, b"\x03\x01" + b"\x02\x00\x00\x00", bytes(8)),  # shape says 2 × 8 bytes, body has 8
        _ext(1, b"\x03\x01" + b"\x01\x00\x00\x00", bytes(9)),  # a trailing byte after the body
        _ext(1, b"\x03\x01" + b"\x01\x00\x00\x00\x00", bytes(8)),  # header longer than its ndim
        _ext(1, b"\x03\x09" + bytes(36)),  # ndim too large
        _ext(1, b"\x03"),  # truncated header
        frame([1, 2, 3]) + b"trailing",
    ],
)
def test_malformed_bytes_raise_protocol_error(data):
    with pytest.raises(ProtocolError):
        codec.decode(data)


def test_oversized_and_deep_input_rejected():
    limits = codec.Limits(max_message_bytes=1000, max_container_len=10, max_str_len=20)
    with pytest.raises(CodecError):
        codec.decode(bytes(2000), limits)
    with pytest.raises(CodecError):
        codec.decode(frame(list(range(11))), limits)
    with pytest.raises(CodecError):
        codec.decode(frame("x" * 21), limits)
    deep = b"\x91" * 100_000 + b"\x00"
    with pytest.raises(CodecError):
        codec.decode(len(deep).to_bytes(4, "little") + deep)


@pytest.mark.parametrize(
    "obj",
    [[1, b"s", "i", "t", 1], [2, b"s", "i", "t", 1, None], [1, "not-bytes", "i", "t", 1, None],
     [1, b"s", "i", "t", -1, None], [1, b"s", "i", "t", True, None], {"a": 1}, [1, b"s" * 65, "i", "t", 1, 0]],
)
def test_message_shape_is_validated(obj):
    with pytest.raises(CodecError):
        Message.from_bytes(frame(obj))


def test_decoded_arrays_are_read_only_views():
    a = np.arange(6, dtype=np.uint64)
    b = codec.decode(codec.encode([a, a[::2]]))
    assert np.array_equal(b[0], a) and np.array_equal(b[1], a[::2])
    with pytest.raises(ValueError):
        b[0][0] = 1


def test_unencodable_objects_raise():
    with pytest.raises(CodecError):
        codec.encode(object())
    with pytest.raises(CodecError):
        codec.encode(np.array(["a"]))
    with pytest.raises(CodecError):
        codec.encode(np.zeros(3, dtype=np.complex128))


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_hostile_bytes_never_crash(data):
    try:
        Message.from_bytes(data)
    except ProtocolError:
        pass


@given(st.binary(min_size=1, max_size=64))
@settings(max_examples=300, deadline=None)
def test_corrupted_valid_messages_never_crash(noise):
    good = Message(session=b"x" * 16, instance="i", tag="t", sender=1, payload=np.arange(4, dtype=np.uint64)).to_bytes()
    cut = len(noise) % len(good)
    data = good[:cut] + noise + good[cut + len(noise):]
    try:
        Message.from_bytes(data)
    except ProtocolError:
        pass
