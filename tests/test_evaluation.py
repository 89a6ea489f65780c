"""Evaluation output: a TREC run file is written atomically, and a path it cannot be written to is refused
by name before any work."""

import os

import pytest

from lessonlib.evaluation import check_run_path, write_trec_run

RUN = {"q2": {"d1": 0.1, "d2": 0.7}, "q1": {"d3": 0.9}}


def test_a_run_is_written_in_trec_format_best_first(tmp_path):
    path = write_trec_run(RUN, tmp_path / "run.trec", tag="my model")
    assert path.read_text().splitlines() == [
        "q1 Q0 d3 1 0.900000 my_model",
        "q2 Q0 d2 1 0.700000 my_model",
        "q2 Q0 d1 2 0.100000 my_model",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.trec"]


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("newdir/", IsADirectoryError, "names a folder; give a file name such as {tmp}/newdir/run.trec"),
        ("existing", IsADirectoryError, "names a folder; give a file name such as {tmp}/existing/run.trec"),
        ("missing/run.trec", FileNotFoundError, "its folder {tmp}/missing does not exist. Create it first"),
    ],
)
def test_a_path_that_cannot_be_written_is_refused_by_name(tmp_path, name, error, message):
    (tmp_path / "existing").mkdir()
    user_path = f"{tmp_path}/{name}"
    for call in (lambda: check_run_path(user_path), lambda: write_trec_run(RUN, user_path)):
        with pytest.raises(error) as err:
            call()
        assert str(err.value).startswith(f"The run file {user_path} ")
        assert message.format(tmp=tmp_path) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # no file named newdir, nothing hidden
    assert list((tmp_path / "existing").iterdir()) == []


def test_an_unwritable_folder_names_the_run_file_not_a_temporary_one(tmp_path, monkeypatch):
    real_open = os.open

    def denied(path, flags, mode=0o777, **kwargs):
        if os.path.dirname(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", denied)  # as a read-only folder does for a non-root user
    with pytest.raises(PermissionError) as err:
        check_run_path(tmp_path / "run.trec")
    assert str(err.value) == (
        f"[Errno 13] The run file {tmp_path / 'run.trec'} cannot be written (Permission denied); "
        "choose a folder you can write to"
    )
    assert ".tmp" not in str(err.value)
