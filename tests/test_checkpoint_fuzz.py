"""Damaged checkpoints never load as different weights: each load raises one CheckpointError line naming the
file, or returns a state identical to the one saved (the damage hit bytes that hold no content, such as a
zip timestamp). Hypothesis draws where the damage goes and what it writes."""

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad.checkpoint import load_checkpoint, save_checkpoint
from minigrad.errors import CheckpointError
from test_checkpoint import assert_identical, sample_state

FUZZ = settings(max_examples=100, deadline=None)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(state, the checkpoint's bytes, a path to write damaged copies to)."""
    folder = tmp_path_factory.mktemp("fuzz")
    state = sample_state(3)
    save_checkpoint(folder / "good.npz", state)
    return state, (folder / "good.npz").read_bytes(), folder / "damaged.npz"


def load_is_safe(state, damaged_bytes, path):
    """Load ``damaged_bytes`` from ``path``: a one-line CheckpointError naming it, or exactly ``state``."""
    path.write_bytes(damaged_bytes)
    try:
        loaded = load_checkpoint(path)
    except CheckpointError as e:
        assert "\n" not in str(e) and str(path) in str(e), str(e)
        return "refused"
    assert_identical(state, loaded)
    return "identical"


@FUZZ
@given(data=st.data())
def test_flipped_bits_never_load_as_different_weights(saved, data):
    state, good, path = saved
    damaged = bytearray(good)
    for bit in data.draw(st.lists(st.integers(0, 8 * len(good) - 1), min_size=1, max_size=3, unique=True)):
        damaged[bit // 8] ^= 1 << (bit % 8)
    load_is_safe(state, bytes(damaged), path)


@FUZZ
@given(data=st.data())
def test_overwritten_bytes_never_load_as_different_weights(saved, data):
    state, good, path = saved
    damaged = bytearray(good)
    start = data.draw(st.integers(0, len(good) - 1), label="start")
    new = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
    damaged[start:start + len(new)] = new[: len(good) - start]
    load_is_safe(state, bytes(damaged), path)


@FUZZ
@given(data=st.data())
def test_truncated_files_are_refused(saved, data):
    state, good, path = saved
    cut = data.draw(st.integers(0, len(good) - 1), label="cut")
    assert load_is_safe(state, good[:cut], path) == "refused"


def rezip_with_changed_byte(good, member, offset, value):
    """The checkpoint's zip rewritten with one byte of one member's .npy changed, its CRC made valid again."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            content = bytearray(src.read(info))
            if info.filename == member:
                content[offset % len(content)] = value
            dst.writestr(info, bytes(content))
    return out.getvalue()


@FUZZ
@given(data=st.data())
def test_content_damage_that_the_zip_crc_cannot_see_is_caught_by_the_digest(saved, data):
    """Whatever changes a member and recomputes its CRC (a tool rewriting the zip, damage in memory before
    the write) changes an array, a header or the metadata: the SHA-256 refuses it, bytes that hold no
    content (the .npy header's padding) may change."""
    state, good, path = saved
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        names = [info.filename for info in z.infolist()]
    member = data.draw(st.sampled_from(names), label="member")
    offset = data.draw(st.integers(0, 10 ** 6), label="offset")
    value = data.draw(st.integers(0, 255), label="value")
    damaged = rezip_with_changed_byte(good, member, offset, value)
    outcome = load_is_safe(state, damaged, path)
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        content = z.read(member)
    position = offset % len(content)
    header_end = 10 + int.from_bytes(content[8:10], "little")     # .npy format 1.0: the header's length
    if outcome == "identical":
        assert content[position] == value or position < header_end, (member, position, value)
    if position >= header_end and content[position] != value:       # the array's own bytes changed
        assert outcome == "refused"
