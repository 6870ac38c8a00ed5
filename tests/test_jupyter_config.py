"""Students' JupyterLab (`make lab`) shows no instructor tools; instructors' (`make formgrader`, from the
course root) serves a formgrader that works."""

import json
import re
import urllib.error
import urllib.request

import pytest
from conftest import ASSIGNMENT, RELEASE, ROOT, STUDENT_JUPYTER, jupyter_lab, make_course

INSTRUCTOR_TOOLS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
]


def _get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _page_config(html):
    return json.loads(re.search(r'id="jupyter-config-data"[^>]*>\s*(\{.*?\})\s*</script>', html, re.S)[1])


def test_the_makefile_starts_students_with_the_student_config():
    makefile = (ROOT / "Makefile").read_text()
    assert "STUDENT_CONFIG := JUPYTER_CONFIG_PATH=$(abspath jupyter-config/student)" in makefile
    assert "\t$(STUDENT_CONFIG) $(BIN)/jupyter lab" in makefile
    assert STUDENT_JUPYTER["JUPYTER_CONFIG_PATH"].endswith("jupyter-config/student")


def test_a_students_lab_has_no_instructor_tools(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "01.ipynb").write_text((RELEASE / "01_queries_keys_values.ipynb").read_text())
    with jupyter_lab(folder, STUDENT_JUPYTER) as (url, token):
        status, html = _get(f"{url}/lab", token)
        assert status == 200
        disabled = _page_config(html)["disabledExtensions"]
        assert all(tool in disabled for tool in INSTRUCTOR_TOOLS), disabled
        assert "@jupyter/nbgrader:validate-assignment" not in disabled, "students keep Validate"
        assert _get(f"{url}/formgrader", token)[0] == 404, "no formgrader server extension"


@pytest.fixture
def instructor(tmp_path):
    course = make_course(tmp_path / "course")
    with jupyter_lab(course) as (url, token):
        yield url, token


def test_an_instructors_formgrader_answers_from_the_course_root(instructor):
    url, token = instructor
    status, html = _get(f"{url}/lab", token)
    assert status == 200 and not any(
        t in _page_config(html).get("disabledExtensions", {}) for t in INSTRUCTOR_TOOLS
    )
    status, html = _get(f"{url}/formgrader/manage_assignments", token)
    assert status == 200, html[:500]
    assert "encountered an error" not in html and "Manage Assignments" in html
    status, body = _get(f"{url}/formgrader/api/assignments", token)
    assert status == 200 and ASSIGNMENT in [a["name"] for a in json.loads(body)]
