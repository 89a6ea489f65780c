"""BEIR data: finding a data set, loading it, and failing on malformed input with file and line."""

import hashlib
import json

import pytest

from conftest import write_beir
from lessonlib.datasets import (
    DatasetFormatError,
    DatasetNotFoundError,
    available_splits,
    check_split,
    document_text,
    find_dataset,
    load_beir,
)


def test_loads_a_split_and_keeps_only_its_judged_queries(tiny_beir):
    data = load_beir(tiny_beir, split="test")
    assert data.doc_ids == ["d1", "d2", "d3"]
    assert data.query_ids == ["q1", "q2"]
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert load_beir(tiny_beir, split="train").query_ids == ["q3"]


def test_documents_are_joined_as_mteb_does():
    assert document_text({"title": "T", "text": "body"}) == "T body"
    assert document_text({"title": "", "text": "body "}) == "body"
    assert document_text({"text": "no title"}) == "no title"


def test_finds_a_name_in_the_configured_data_folder(tmp_path, monkeypatch, isolated_cache):
    write_beir(tmp_path / "data" / "mini")
    monkeypatch.setenv("LESSONLIB_DATA_DIR", f"{tmp_path / 'elsewhere'}:{tmp_path / 'data'}")
    assert find_dataset("mini") == tmp_path / "data" / "mini"


def test_finds_a_name_in_the_cache(isolated_cache, monkeypatch):
    monkeypatch.delenv("LESSONLIB_DATA_DIR", raising=False)
    write_beir(isolated_cache / "datasets" / "mini")
    assert find_dataset("mini", download=False) == isolated_cache / "datasets" / "mini"


def test_unknown_name_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch, isolated_cache):
    monkeypatch.setenv("LESSONLIB_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as err:
        find_dataset("nosuchset")
    assert str(tmp_path / "nosuchset") in str(err.value)
    assert "LESSONLIB_DATA_DIR" in str(err.value) and "scifact" in str(err.value)


def test_missing_split_lists_the_available_ones(tiny_beir):
    with pytest.raises(DatasetNotFoundError, match=r"no split 'dev'.*Available splits: test, train"):
        load_beir(tiny_beir, split="dev")
    assert available_splits(tiny_beir) == ["test", "train"]


def test_bad_json_line_names_file_and_line(tiny_beir):
    path = tiny_beir / "corpus.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = '{"_id": "d2", "text": '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=r"corpus\.jsonl:2: invalid JSON"):
        load_beir(tiny_beir)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "no id"}, 'missing or non-string "_id"'),
        ({"_id": "x"}, 'missing or non-string "text"'),
        ({"_id": "d1", "text": "again"}, "duplicate _id 'd1'"),
        ({"_id": "d4", "title": ["A", "B"], "text": "t"}, "\"title\" of _id 'd4' is list, not a string; write it as"),
        ({"_id": "d4", "title": 5, "text": "t"}, "\"title\" of _id 'd4' is int, not a string"),
    ],
)
def test_bad_records_name_file_and_line(tiny_beir, record, message):
    with (tiny_beir / "corpus.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    with pytest.raises(DatasetFormatError, match=rf"corpus\.jsonl:4: {message}"):
        load_beir(tiny_beir)


def test_empty_corpus_is_an_error(tiny_beir):
    (tiny_beir / "corpus.jsonl").write_text("\n")
    with pytest.raises(DatasetFormatError, match="corpus file is empty"):
        load_beir(tiny_beir)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("q9\td1\t1", "query-id 'q9' is not in queries.jsonl"),
        ("q1\td9\t1", "corpus-id 'd9' is not in corpus.jsonl"),
        ("q1\td1\thigh", "score 'high' is not an integer"),
        ("q1\td1", "expected 3 tab-separated fields"),
    ],
)
def test_bad_qrels_rows_name_file_and_line(tiny_beir, row, message):
    with (tiny_beir / "qrels" / "test.tsv").open("a") as handle:
        handle.write(row + "\n")
    with pytest.raises(DatasetFormatError, match=rf"test\.tsv:4: {message}"):
        load_beir(tiny_beir)


def test_qrels_without_header_is_an_error(tiny_beir):
    (tiny_beir / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(DatasetFormatError, match=r"test\.tsv:1: expected the header"):
        load_beir(tiny_beir)


# SHA-256 of the shared SciFact files, from its PROVENANCE.md.
SCIFACT_SHA256 = {
    "corpus.jsonl": "dec31c8182f3d744c7d2c09423756fd1d17cbef75808db13ba01cc0aab4d1ac6",
    "queries.jsonl": "8ff84a7c903f722981cd8d595c022660140c51867b27608a6d4910db86080313",
    "qrels/test.tsv": "68c0ac63f1c24b9e8ce497649694f09b2d0850bab7ec2b103cc66996f5f8b3a3",
    "qrels/train.tsv": "ac0902d9b1cb717df182aaff1306175877fdb8f55bb5c3e8597ad694fc8e539f",
}


def test_real_scifact_loads_with_the_published_counts(scifact_dir):
    for name, digest in SCIFACT_SHA256.items():
        assert hashlib.sha256((scifact_dir / name).read_bytes()).hexdigest() == digest, name
    test = load_beir(scifact_dir, split="test")
    train = load_beir(scifact_dir, split="train")
    assert len(test.corpus) == 5183
    assert (len(test.queries), sum(map(len, test.qrels.values()))) == (300, 339)
    assert (len(train.queries), sum(map(len, train.qrels.values()))) == (809, 919)
    assert not set(test.queries) & set(train.queries)


# --- bad input: an error naming the file (and line) and what to do, never a silent wrong number --------------


def test_a_query_document_pair_judged_twice_is_refused_with_both_lines(tiny_beir):
    # Before: the last row won silently, and nDCG moved with the order of the rows.
    with (tiny_beir / "qrels" / "test.tsv").open("a") as handle:
        handle.write("q1\td1\t0\n")
    with pytest.raises(DatasetFormatError) as err:
        load_beir(tiny_beir)
    message = str(err.value)
    assert f"{tiny_beir / 'qrels' / 'test.tsv'}:4:" in message
    assert "('q1', 'd1') is judged twice (first on line 2)" in message and "keep one row" in message


@pytest.mark.parametrize("name", ["corpus.jsonl", "qrels/test.tsv"])
def test_bytes_that_are_not_utf8_name_file_line_and_fix(tiny_beir, name):
    path = tiny_beir / name
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].rstrip(b"\n") + b"\xff\n"  # a byte no UTF-8 text holds, at the end of line 2
    path.write_bytes(b"".join(lines))
    with pytest.raises(DatasetFormatError) as err:
        load_beir(tiny_beir)
    message = str(err.value)
    assert message.startswith(f"{path}:2: byte 0xff at column")
    assert "must be UTF-8" in message and "Re-save it as UTF-8" in message


def test_a_lone_surrogate_is_refused_when_the_file_is_read(tiny_beir):
    # Valid JSON, but "\ud800" decodes to half a character that no tokenizer (nor UTF-8) can encode; before,
    # it failed only after the model had loaded, naming no file.
    with (tiny_beir / "corpus.jsonl").open("a") as handle:
        handle.write('{"_id": "d4", "title": "", "text": "broken \\ud800 escape"}\n')
    with pytest.raises(DatasetFormatError) as err:
        load_beir(tiny_beir)
    message = str(err.value)
    assert message.startswith(f"{tiny_beir / 'corpus.jsonl'}:4:")
    assert "lone surrogate '\\ud800'" in message and "Fix or remove it" in message


@pytest.mark.parametrize("name", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_a_utf8_byte_order_mark_is_accepted(tiny_beir, name):
    expected = load_beir(tiny_beir)
    path = tiny_beir / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    data = load_beir(tiny_beir)
    assert (data.corpus, data.queries, data.qrels) == (expected.corpus, expected.queries, expected.qrels)


@pytest.mark.parametrize("split", ["../../x/qrels/test", "sub/test", "..", "/etc/passwd", ""])
def test_a_split_is_a_name_not_a_path(tiny_beir, tmp_path, split):
    outside = tmp_path / "x" / "qrels"
    outside.mkdir(parents=True)
    (outside / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(ValueError) as err:
        load_beir(tiny_beir, split=split)
    message = str(err.value)
    assert f"split {split!r} is not a split name" in message and "such as 'test'" in message
    assert check_split("dev-2") == "dev-2"
