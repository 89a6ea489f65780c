"""The trainer: settings, the cached SentenceTransformerTrainer run with its model card, and what it refuses."""

import json
from dataclasses import replace

import numpy as np
import pytest
from transformers.utils import logging as hf_logging

from conftest import toy_pairs
from lessonlib.embeddings import model_fingerprint
from lessonlib.environment import pick_device, pick_mixed_precision
from lessonlib.heldout import TestQueryLeakError
from lessonlib.pairs import TrainingSet, pairs_to_dataset
from lessonlib.training import SETTINGS_FILE, TrainingSettings, fine_tune, seq_length


def test_fine_tune_refuses_a_test_query_before_training(small_set, isolated_cache):
    from datasets import Dataset

    leaked = Dataset.from_dict({"anchor": ["A TEST question", "question on cats purr"], "positive": ["p", "q"]})
    with pytest.raises(TestQueryLeakError):
        fine_tune(TrainingSet.check(leaked, small_set), TrainingSettings(batch_size=2))
    assert not (isolated_cache / "finetuned").exists()  # nothing was trained or saved


def test_settings_are_validated():
    with pytest.raises(ValueError, match="batch_size"):
        TrainingSettings(batch_size=1)
    with pytest.raises(ValueError, match="warmup_ratio"):
        TrainingSettings(warmup_ratio=1.0)
    with pytest.raises(ValueError, match="encode_length"):
        TrainingSettings(encode_length=4)


def test_fine_tune_trains_saves_a_card_and_reuses_the_run(small_set, isolated_cache, minilm, capfd):
    data = pairs_to_dataset(toy_pairs(["q0", "q1", "q2", "q3", "q4", "q5"]), small_set)
    settings = TrainingSettings(learning_rate=5e-4, epochs=1, batch_size=3, max_seq_length=32)
    capfd.readouterr()
    first = fine_tune(data, settings, name="tiny", data_description="six toy pairs")
    assert not first.from_cache
    # progress=False hides transformers' bars (loading and writing weights) and leaves the library's
    # progress-bar setting as it found it.
    quiet = capfd.readouterr()
    for bar in ("Loading weights", "Writing model shards"):
        assert bar not in quiet.err + quiet.out, bar
    assert hf_logging.is_progress_bar_enabled()
    assert model_fingerprint(first.model) != model_fingerprint(minilm)  # the weights moved
    assert first.model.max_seq_length == minilm.max_seq_length  # encoding length restored
    record = json.loads((first.path / SETTINGS_FILE).read_text())
    assert record["pairs"] == 6 and record["settings"]["learning_rate"] == 5e-4
    # bf16=None is resolved for this machine's device, recorded, and part of the run's identity.
    assert first.settings.bf16 is pick_mixed_precision(pick_device()) is record["settings"]["bf16"]
    assert first.precision == ("bfloat16" if first.settings.bf16 else "float32")
    assert record["batch_sampler"] == "NO_DUPLICATES" and record["data"] == "six toy pairs"
    card = (first.path / "README.md").read_text()
    assert "six toy pairs" in card and "learning_rate: 0.0005" in card
    second = fine_tune(data, settings, name="tiny", data_description="six toy pairs")
    assert second.from_cache and second.path == first.path
    texts = ["question on cats purr", "Cats Purr A passage about cats purr."]
    np.testing.assert_allclose(second.model.encode(texts), first.model.encode(texts), atol=1e-5)
    other = fine_tune(data, TrainingSettings(learning_rate=1e-4, batch_size=3, max_seq_length=32), name="tiny")
    assert other.path != first.path and not other.from_cache
    other_precision = fine_tune(data, replace(settings, bf16=not first.settings.bf16), name="tiny")
    assert other_precision.path != first.path and not other_precision.from_cache
    assert other_precision.precision != first.precision
    shorter = fine_tune(data, replace(settings, encode_length=48), name="tiny")
    assert shorter.path != first.path and shorter.model.max_seq_length == 48  # saved with its encoding length
    assert json.loads((shorter.path / SETTINGS_FILE).read_text())["settings"]["encode_length"] == 48


def test_fine_tune_needs_a_full_batch(small_set, isolated_cache):
    data = pairs_to_dataset(toy_pairs(["q0", "q1"]), small_set)
    with pytest.raises(ValueError, match="fewer than one batch"):
        fine_tune(data, TrainingSettings(batch_size=4))


def test_seq_length_is_restored(minilm):
    before = minilm.max_seq_length
    with seq_length(minilm, 16):
        assert minilm.max_seq_length == 16
    assert minilm.max_seq_length == before


def test_fine_tune_takes_only_a_checked_training_set(isolated_cache):
    from datasets import Dataset

    raw = Dataset.from_dict({"anchor": ["a", "b"], "positive": ["p", "q"]})
    with pytest.raises(TypeError, match="TrainingSet"):
        fine_tune(raw, TrainingSettings(batch_size=2))
    assert not (isolated_cache / "finetuned").exists()


def test_settings_refuse_a_bool_where_a_number_belongs():
    with pytest.raises(TypeError, match="epochs"):
        TrainingSettings(epochs=True)
    with pytest.raises(TypeError, match="bf16"):
        TrainingSettings(bf16="yes")
