"""Local progress: saved where documented, atomic, and never broken or silently lost by a bad file."""

import json
import os

import pytest

from helpers import checks, progress
from helpers.grading import reference as ref


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    file = tmp_path / "deep" / "progress.json"
    monkeypatch.setenv(progress.ENV, str(file))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    return file


def test_default_location_is_in_the_home_folder(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert progress.path() == progress.DEFAULT.expanduser()
    assert str(progress.path()).startswith(os.path.expanduser("~"))


def test_missing_file_is_an_empty_record(progress_file):
    assert progress.load() == {"version": 1, "checks": {}, "quiz": None}
    notebooks, quiz = progress.summary()
    assert notebooks["02_softmax"] == (0, 1) and quiz is None


def test_a_passing_check_is_recorded_and_completes_its_notebook(progress_file):
    checks.check_softmax(ref.softmax)
    saved = json.loads(progress_file.read_text())
    assert saved["checks"]["softmax"]["passed"]
    assert progress.summary()[0]["02_softmax"] == (1, 1)
    assert "✓ done" in progress.summary_html()


def test_failing_and_hidden_checks_record_nothing(progress_file):
    with pytest.raises(AssertionError):
        checks.check_softmax(lambda x, axis=-1: x)
    checks.check_softmax(ref.softmax, hidden=True)
    assert not progress_file.exists()


def test_nothing_is_saved_while_grading(progress_file, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    checks.check_softmax(ref.softmax)
    progress.record_quiz(3, 15)
    assert not progress_file.exists()


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2, 3]", b'{"checks": 7}', b"\xff\xfe\x00"])
def test_corrupt_file_never_breaks_and_is_backed_up_before_it_is_replaced(progress_file, content):
    progress_file.parent.mkdir(parents=True)
    progress_file.write_bytes(content)
    assert progress.load()["checks"] == {}  # no exception
    assert "not taken yet" in progress.summary_html()
    progress.record_check("softmax")
    assert (progress_file.parent / "progress.json.corrupt-1").read_bytes() == content
    assert json.loads(progress_file.read_text())["checks"]["softmax"]["passed"]
    progress_file.write_bytes(content)
    progress.record_check("softmax")
    assert (progress_file.parent / "progress.json.corrupt-2").read_bytes() == content


def test_unreadable_file_is_left_alone(progress_file, monkeypatch):
    # Simulated: tests may run as root, who can read any file whatever its permissions.
    progress_file.parent.mkdir(parents=True)
    progress_file.write_text('{"checks": {}}')
    real_read_text, real_read_bytes = type(progress_file).read_text, type(progress_file).read_bytes

    def denied(self, *args, **kwargs):
        if self == progress_file:
            raise PermissionError(13, "Permission denied")
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(type(progress_file), "read_text", denied)
    monkeypatch.setattr(type(progress_file), "read_bytes", denied)
    assert progress.load()["checks"] == {}
    assert progress.save({"version": 1, "checks": {"x": {"passed": True}}, "quiz": None}) is False
    monkeypatch.setattr(type(progress_file), "read_text", real_read_text)
    monkeypatch.setattr(type(progress_file), "read_bytes", real_read_bytes)
    assert progress_file.read_text() == '{"checks": {}}'


def test_unwritable_folder_does_not_raise(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(progress.ENV, str(blocker / "progress.json"))  # its folder is a file
    assert progress.save({"version": 1, "checks": {}, "quiz": None}) is False
    progress.record_check("softmax")  # no exception either


def test_writes_are_atomic(progress_file, monkeypatch):
    progress.record_check("softmax")
    before = progress_file.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(progress.os, "replace", crash)
    assert progress.save({"version": 1, "checks": {"x": {"passed": True}}, "quiz": None}) is False
    assert progress_file.read_text() == before
    assert [p.name for p in progress_file.parent.iterdir()] == ["progress.json"], "no temporary file left"


def test_quiz_score_and_widget(progress_file):
    progress.record_quiz(12, 15)
    assert progress.summary()[1]["correct"] == 12
    widget = progress.progress_widget()
    assert "Quiz score: 12 / 15" in widget.children[1].value
    progress.record_quiz(15, 15)
    widget.children[0].click()
    assert "Quiz score: 15 / 15" in widget.children[1].value and "✓ done" in widget.children[1].value
