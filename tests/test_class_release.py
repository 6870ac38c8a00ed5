"""What an instructor hands a class: the released notebooks and the student package, built as a wheel.

Built here as `make class-release` builds it and installed (not editable) into a fresh venv, it must run the
released notebooks and the tutor, and hold nothing that gives away an answer: a student who imports every module,
reads every file and calls every function they can reach (closures, lambdas and all) recovers no graded function
and no quiz answer.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import QUIZ_KEY, RELEASE, ROOT, class_environment, submission
from mistakes import REFERENCE

from helpers.grading.exercises import EXERCISES, case_data, check_data, hidden_cases
from helpers.quiz import course_key

STUDENT = Path(__file__).with_name("class_student")
BUILD_WHEEL = ROOT / "deploy" / "build_wheel.py"  # what `make class-release` runs


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The wheel as `make class-release` builds it, and the class environment: a venv of its own with the pinned
    packages and that wheel installed (shared with test_hub.py: conftest.class_environment)."""
    folder = tmp_path_factory.mktemp("class-release")
    subprocess.run([sys.executable, str(BUILD_WHEEL), str(folder)], check=True, stdout=subprocess.DEVNULL)
    (wheel,) = folder.glob("attention_course-*.whl")
    python = class_environment() / "bin" / "python"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION")},
        "ATTENTION_COURSE_PROGRESS": str(folder / "progress.json"),
        "MPLBACKEND": "Agg",
        "HOME": str(folder),
    }
    return {"wheel": wheel, "python": python, "folder": folder, "env": env}


def _run(release, *args, stdin=None, **env):
    done = subprocess.run(
        [str(release["python"]), *args], input=stdin, capture_output=True, text=True, cwd=release["folder"],
        env={**release["env"], **env}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_holds_the_student_package_and_its_data_only(release):
    names = zipfile.ZipFile(release["wheel"]).namelist()
    assert not [n for n in names if "grading" in n], "no solutions, no grader"
    assert "helpers/course_text.json" in names and "helpers/check_data/softmax.json" in names
    assert "helpers/tutor_questions.json" in names and "helpers/tutor_phrasings.json" in names
    metadata = (
        zipfile.ZipFile(release["wheel"]).read(next(n for n in names if n.endswith("METADATA"))).decode()
    )
    for dependency in ("numpy", "matplotlib", "ipywidgets", "ipython"):
        assert f"Requires-Dist: {dependency}" in metadata
    assert "License-Expression: MIT" in metadata


def test_a_grading_kernel_gets_the_student_package_the_class_gets(release):
    # The grading sandbox copies the student package out of the course (helpers/grading/sandbox.py): the same
    # files as the wheel, no more.
    from helpers.grading import sandbox

    names = zipfile.ZipFile(release["wheel"]).namelist()
    in_wheel = {n.removeprefix("helpers/") for n in names if n.startswith("helpers/")}
    assert {str(p) for p in sandbox.student_package_files()} == in_wheel
    assert sandbox.PACKAGE_DATA == sandbox.package_data(), "the fallback for a course without pyproject.toml"
    copied = sandbox.student_package()
    assert sorted(str(p.relative_to(copied)) for p in copied.rglob("*") if p.is_file()) == sorted(in_wheel)


def test_the_released_notebooks_run_on_the_students_own_functions(release):
    # A student finishes 02 (their softmax passes its check), then runs 03, whose softmax is now theirs.
    folder = release["folder"]
    for notebook in ("02_softmax", "03_scaled_dot_product_attention"):
        function = {"02_softmax": "softmax"}.get(notebook, "scaled_dot_product_attention")
        nbformat.write(
            submission(RELEASE, notebook, {function: REFERENCE[function]}), folder / f"{notebook}.ipynb"
        )
    script = (
        "import sys, nbformat\nfrom nbclient import NotebookClient\n"
        "for name in sys.argv[1:]:\n"
        "    nb = nbformat.read(name, as_version=4)\n"
        "    NotebookClient(nb, timeout=120, kernel_name='python3').execute()\n"
        "    nbformat.write(nb, name)\n"
    )
    _run(release, "-c", script, "02_softmax.ipynb", "03_scaled_dot_product_attention.ipynb")
    progress = json.loads((folder / "progress.json").read_text())
    assert progress["functions"]["softmax"]["defines"] == "softmax", "02 kept the student's code"
    ran = nbformat.read(folder / "03_scaled_dot_product_attention.ipynb", as_version=4)
    outputs = "".join(str(o) for c in ran.cells if c.cell_type == "code" for o in c.outputs)
    assert "scaled_dot_product_attention: all" in outputs and "checks passed" in outputs
    assert "Not done yet" not in outputs and "Traceback" not in outputs


def test_a_later_notebook_says_which_one_to_finish_first(release):
    script = (
        "import os\nos.environ['ATTENTION_COURSE_PROGRESS'] = os.path.abspath('empty/progress.json')\n"
        "from helpers.earlier import causal_mask\n"
        "try:\n    causal_mask(3)\nexcept NotImplementedError as exc:\n    print(exc)\n"
    )
    assert "comes from notebook 04_self_attention_and_causal_masks" in _run(release, "-c", script)


def test_the_tutor_answers_from_the_wheel(release):
    script = "from helpers.tutor import ask\na = ask('Why do we divide by sqrt(d_k)?')\nprint(a.grounded, a.sources)"
    out = _run(release, "-c", script)
    assert out.startswith("True") and "03_scaled_dot_product_attention" in out


def _cases():
    """Inputs and expected outputs of every visible and hidden case, for the student to try to reproduce."""
    data = {}
    for name in EXERCISES:
        visible = check_data(name)["cases"]
        hidden = [
            {key: value for key, value in case_data(c).items() if key != "mistakes"}
            for c in hidden_cases(name)
        ]
        data[name] = visible + hidden
    return data


@pytest.fixture(scope="module")
def attempt(release):
    # A student who has passed no check yet: helpers.earlier has none of their own functions to hand out.
    fresh = release["folder"] / "no-progress" / "progress.json"
    out = _run(
        release, str(STUDENT / "recover.py"), stdin=json.dumps(_cases()), ATTENTION_COURSE_PROGRESS=str(fresh)
    )
    return json.loads(out)


def test_the_student_recovers_no_graded_function(attempt):
    assert attempt["tried"] > 100, "it really tried: every function it could reach"
    assert "helpers.checks" in attempt["modules"] and "helpers.grading" not in attempt["modules"]
    assert attempt["recovered"] == {name: [] for name in EXERCISES}


def test_check_data_alone_is_no_answer():
    # A function that looks its inputs up in the visible cases passes them all, and then fails the hidden ones.
    from helpers import checks
    from helpers.checking import CheckFailure

    def lookup(name):
        table = [(c.args, c.kwargs, c.expected) for c in checks._spec(name).cases()]

        def answer(*args, **kwargs):
            for a, k, expected in table:
                if (
                    len(a) == len(args)
                    and all(repr(x) == repr(y) for x, y in zip(a, args))
                    and repr(k) == repr(kwargs)
                ):
                    return expected
            raise ValueError("not a case I have seen")

        return answer

    for name in EXERCISES:
        spec = checks._spec(name)
        fn = lookup(name)
        for case in spec.cases():
            assert repr(fn(*case.args, **case.kwargs)) == repr(case.expected)
        with pytest.raises(CheckFailure):
            getattr(checks, f"check_{name}")(fn, hidden=True)


def test_the_student_learns_no_quiz_answer(attempt):
    quiz = attempt["quiz"]
    assert quiz["course_key"] is False
    assert all(count == 2 for count in quiz["verdicts"].values()), "all four letters get the same reply"
    text = "".join(quiz["files"].values())
    assert QUIZ_KEY not in text
    for _, explanation in course_key().values():
        assert explanation[:60] not in text, "explanations come with the feedback, not before"
    assert not any(
        len(word) >= 32 and all(c in "0123456789abcdef" for c in word) for word in text.split('"')
    ), "no hashes to brute-force"
