"""Encoding with the on-disk cache: hits skip the model, a changed input misses, corruption is rebuilt."""

import json
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from lessonlib.embeddings import embeddings_cache, encode, model_fingerprint, texts_fingerprint

TEXTS = ["The new movie is awesome", "The new movie is so great", "A man is playing guitar."]


class CountingModel:
    """Wraps a real model and counts encode calls, to prove the cache answers instead of the model."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __repr__(self):
        return repr(self.model)

    def encode(self, *args, **kwargs):
        self.calls += 1
        return self.model.encode(*args, **kwargs)


def test_second_call_is_served_from_the_cache(minilm, isolated_cache):
    model = CountingModel(minilm)
    first = encode(model, TEXTS, progress=False)
    calls = model.calls
    second = encode(model, TEXTS, progress=False)
    assert model.calls == calls > 0
    np.testing.assert_array_equal(first, second)
    assert first.shape == (3, 384) and first.dtype == np.float32


def test_matches_sentence_transformers_and_is_normalised(minilm, isolated_cache):
    ours = encode(minilm, TEXTS, progress=False)
    reference = minilm.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # The similarity published on sbert.net for this pair with all-MiniLM-L6-v2.
    assert float(ours[0] @ ours[1]) == pytest.approx(0.8939, abs=1e-4)


def test_prompt_and_texts_change_the_key(minilm, isolated_cache):
    model = CountingModel(minilm)
    encode(model, TEXTS, progress=False)
    for kwargs, texts in [({"prompt": "query: "}, TEXTS), ({}, TEXTS[:2])]:
        before = model.calls
        encode(model, texts, progress=False, **kwargs)
        assert model.calls > before, kwargs


def test_raw_and_normalised_embeddings_share_one_encoding(minilm, isolated_cache):
    # The entry holds the vectors before Normalize: the model without that module is served from it.
    normalised = encode(minilm, TEXTS, progress=False)
    without = CountingModel(SentenceTransformer(modules=[minilm[0], minilm[1]], device=str(minilm.device)))
    raw = encode(without, TEXTS, normalize=False, progress=False)
    assert without.calls == 0
    assert len(list(embeddings_cache().glob("*.npy"))) == 1
    np.testing.assert_allclose(raw, without.model.encode(TEXTS), atol=1e-5)
    assert np.linalg.norm(raw, axis=1).min() > 1.5  # really unnormalised (lesson 03: 1.6-3.3 on SciFact)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), normalised, atol=1e-6)
    np.testing.assert_allclose(encode(without, TEXTS, progress=False), normalised, atol=1e-6)
    # A model ending in Normalize gives unit rows whatever the flag, as model.encode does; it is left intact.
    np.testing.assert_allclose(encode(minilm, TEXTS, normalize=False, progress=False), normalised, atol=1e-6)
    assert type(minilm[-1]).__name__ == "Normalize"


def test_corrupt_entry_is_detected_and_rebuilt(minilm, isolated_cache):
    good = encode(minilm, TEXTS, progress=False)
    (data_file,) = embeddings_cache().glob("*.npy")
    raw = bytearray(data_file.read_bytes())
    raw[-4:] = b"\x00\x00\x80\x7f"  # the last float becomes inf
    data_file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = encode(minilm, TEXTS, progress=False)
    np.testing.assert_array_equal(rebuilt, good)
    np.testing.assert_array_equal(encode(minilm, TEXTS, progress=False), good)  # repaired on disk


def test_no_temporary_files_are_left(minilm, isolated_cache):
    encode(minilm, TEXTS, progress=False)
    assert sorted(p.suffix for p in embeddings_cache().iterdir()) == [".json", ".npy"]


def test_fingerprint_changes_when_a_weight_changes(minilm):
    before = model_fingerprint(minilm)
    param = next(minilm.parameters())
    with torch.no_grad():
        param[0, 0] += 1.0
    try:
        assert model_fingerprint(minilm) != before
    finally:
        with torch.no_grad():
            param[0, 0] -= 1.0
    assert model_fingerprint(minilm) == before


def test_texts_fingerprint_cannot_collide_by_joining():
    assert texts_fingerprint(["ab", "c"]) != texts_fingerprint(["a", "bc"])


def test_bfloat16_is_close_to_float32_and_cached_apart(minilm, isolated_cache):
    model = CountingModel(minilm)
    full = encode(model, TEXTS, progress=False)
    before = model.calls
    half = encode(model, TEXTS, progress=False, precision="bfloat16")
    assert model.calls > before  # its own cache entry, not the float32 one
    assert half.dtype == np.float32
    cosines = np.sum(full * half, axis=1)
    assert np.all(cosines > 0.999), cosines
    assert not np.array_equal(full, half)  # autocast did run the products in bfloat16
    calls = model.calls
    np.testing.assert_array_equal(encode(model, TEXTS, progress=False, precision="bfloat16"), half)
    assert model.calls == calls
    # float32 is still served from its own entry, and the autocast context did not outlive the call.
    np.testing.assert_array_equal(encode(model, TEXTS, progress=False), full)
    assert not torch.is_autocast_enabled(minilm.device.type)


def test_bad_precision_is_rejected(minilm, isolated_cache):
    with pytest.raises(ValueError, match="precision must be one of"):
        encode(minilm, TEXTS, progress=False, precision="float16")


def test_bad_texts_are_rejected(minilm, isolated_cache):
    with pytest.raises(ValueError, match="texts is empty"):
        encode(minilm, [], progress=False)
    with pytest.raises(TypeError, match="must all be str"):
        encode(minilm, ["ok", 3], progress=False)


# --- bad input: refused by name, or repaired; never a silent wrong number -----------------------------------


@pytest.mark.parametrize("single", ["abc", b"abc"])
def test_a_single_string_is_refused_not_split_into_characters(minilm, isolated_cache, single):
    # Before: "abc" was embedded character by character, shape (3, 384), and cached.
    with pytest.raises(TypeError) as err:
        encode(minilm, single, progress=False)
    message = str(err.value)
    assert f"texts is a single {type(single).__name__} ({single!r})" in message
    assert "encode(model, [text])" in message
    assert not embeddings_cache().exists() or not list(embeddings_cache().iterdir())
    assert encode(minilm, ["abc"], progress=False).shape == (1, 384)


def test_a_lone_surrogate_is_refused_naming_its_index(minilm, isolated_cache):
    with pytest.raises(ValueError, match=r"texts\[1\] holds a lone surrogate '\\ud800'.*fix or remove it"):
        encode(minilm, ["fine", "broken \ud800"], progress=False)


@pytest.mark.parametrize("content", ["null", "[1, 2]", '"sha"', "3"])
def test_metadata_that_is_json_but_not_an_object_is_rebuilt(minilm, isolated_cache, content):
    # Before: a TypeError on every run until the file was deleted by hand.
    good = encode(minilm, TEXTS, progress=False)
    (meta_file,) = embeddings_cache().glob("*.json")
    meta_file.write_text(content)
    with pytest.warns(
        UserWarning, match=rf"{meta_file.stem}\.npy are corrupt \({meta_file.name} holds .*not a JSON object"
    ):
        rebuilt = encode(minilm, TEXTS, progress=False)
    np.testing.assert_array_equal(rebuilt, good)
    assert isinstance(json.loads(meta_file.read_text()), dict)  # repaired on disk


def test_entries_are_created_with_the_umask_not_0600(minilm, isolated_cache):
    # A cache shared by a group must stay readable to the group; mkstemp's 0600 made it unreadable.
    previous = os.umask(0o002)
    try:
        encode(minilm, TEXTS, progress=False)
    finally:
        os.umask(previous)
    modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in embeddings_cache().iterdir()}
    assert modes == {".npy": 0o664, ".json": 0o664}


def test_an_unreadable_entry_is_a_permission_error_not_corruption(minilm, isolated_cache, monkeypatch):
    encode(minilm, TEXTS, progress=False)
    (data_file,) = embeddings_cache().glob("*.npy")
    before = data_file.read_bytes()
    real_read_bytes = Path.read_bytes

    def denied(self):
        # What another user's 0600 entry gives; simulated, since root (as in CI) reads any file.
        if self == data_file:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "corrupt" warning, no re-encoding
        with pytest.raises(PermissionError) as err:
            encode(minilm, TEXTS, progress=False)
    message = str(err.value)
    assert f"Cannot read the cached embeddings {data_file}: permission denied" in message
    assert "$LESSONLIB_CACHE" in message and "cache=False" in message
    monkeypatch.undo()
    assert data_file.read_bytes() == before  # not rewritten


@pytest.mark.parametrize("step", ["open", "replace"])
def test_an_unwritable_cache_is_a_permission_error_and_leaves_nothing(minilm, isolated_cache, monkeypatch, step):
    # "open": a folder the user may not write to; "replace": an entry another user owns in a sticky folder.
    real = getattr(os, step)

    def denied(path, *args, **kwargs):
        if Path(path).parent == embeddings_cache():
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    embeddings_cache().mkdir(parents=True)
    monkeypatch.setattr(os, step, denied)
    with pytest.raises(PermissionError) as err:
        encode(minilm, TEXTS, progress=False)
    message = str(err.value)
    assert message.startswith("Cannot write ") and f".npy to the embedding cache {embeddings_cache()}: " in message
    assert "permission denied" in message and "$LESSONLIB_CACHE" in message and "cache=False" in message
    assert list(embeddings_cache().iterdir()) == []  # no temporary file left behind


def test_a_model_with_named_modules_keeps_its_names(minilm, isolated_cache):
    # Detaching the trailing Normalize for the cache must not rename the other modules (Sequential.pop would).
    from collections import OrderedDict

    named = SentenceTransformer(
        modules=OrderedDict([("transformer", minilm[0]), ("pooler", minilm[1]), ("normalizer", minilm[2])]),
        device=str(minilm.device),
    )
    before = model_fingerprint(named)
    vectors = encode(named, TEXTS, progress=False)
    assert [name for name, _ in named.named_children()] == ["transformer", "pooler", "normalizer"]
    assert model_fingerprint(named) == before
    np.testing.assert_allclose(vectors, encode(minilm, TEXTS, progress=False), atol=1e-6)
