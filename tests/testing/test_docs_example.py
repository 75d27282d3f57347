"""docs/testing-your-server.rst's example, copied into a fresh project and run there.

The README's setup is applied first, as tests/test_readme_walkthrough.py applies it (up
to its first server: its own venv with the built wheel, ``startproject mysite``, the
setup blocks); then the page's code blocks marked ``.. testing-example: ACTION [PATH]``,
in order:

``create PATH``  the block is written to ``PATH`` (relative to the project folder);
``append PATH``  the block is appended to ``PATH``;
``run``          the block is ``pytest``: the example's tests run, and must all pass.

The page's ``pip install "django-openai-chatkit[testing]"`` is the built wheel with its
``testing`` extra. The fixtures come from the plugin's ``pytest11`` entry point: nothing
in the project names it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.example.test_readme_walkthrough import (
    README,
    ROOT,
    Project,
    Step,
    build_project,
    run_lines,
    walkthrough_steps,
)

# Its own project, venv and SQLite database: the PostgreSQL runs would repeat it exactly.
pytestmark = pytest.mark.database_independent

PAGE = ROOT / "docs" / "testing-your-server.rst"
INSTALL = 'pip install "django-openai-chatkit[testing]"'
MARKER = re.compile(
    r"^\.\. testing-example: (?P<action>\w+)(?: (?P<path>\S+))?\n\n"
    r"\.\. code-block:: \w+\n\n(?P<code>(?:(?: {4}.*)?\n)+)",
    re.MULTILINE,
)


def example_steps(text: str) -> list[Step]:
    """The page's marked blocks, in order, dedented."""
    steps = [
        Step(match["action"], match["path"], textwrap.dedent(match["code"]).strip("\n") + "\n")
        for match in MARKER.finditer(text)
    ]
    assert len(steps) == text.count(".. testing-example:"), (
        "every testing-example marker must be followed directly by a code-block"
    )
    return steps


def readme_setup(project_dir: Path, dist: Path) -> Project:
    """The README's setup up to its first server, in a fresh project under ``project_dir``
    (the wheel from ``dist``)."""
    project = None
    for step in walkthrough_steps(README.read_text()):
        if step.action == "serve":
            break
        if step.action == "install":
            project = build_project(project_dir, dist)
            continue
        assert project is not None
        path = project.directory / (step.path or "")
        if step.action == "create":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.code)
        elif step.action == "append":
            path.write_text(path.read_text() + "\n" + step.code)
        elif step.action == "run":
            run_lines(project, step.code)
    assert project is not None
    return project


def test_the_testing_page_example_passes_in_a_fresh_project(
    tmp_path: Path, package_dist: Path
) -> None:
    text = PAGE.read_text()
    assert INSTALL in text
    steps = example_steps(text)
    assert [step.action for step in steps].count("run") == 1
    project = readme_setup(tmp_path, package_dist)
    (wheel,) = package_dist.glob("django_openai_chatkit-*.whl")
    project.run(["python", "-m", "pip", "install", "--quiet", f"{wheel}[testing]"])

    for step in steps:
        path = project.directory / (step.path or "")
        if step.action == "create":
            assert not path.exists(), f"{step.path} exists already"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.code)
        elif step.action == "append":
            path.write_text(path.read_text() + "\n" + step.code)
        elif step.action == "run":
            assert step.code == "pytest\n", step.code
            output = project.run(["pytest", "-p", "no:cacheprovider", "-rA"])
            # The plugin came in through its entry point, with the wheel.
            assert re.search(r"^plugins: .*django-openai-chatkit-", output, re.MULTILINE), output
            tests = len(
                re.findall(
                    r"^def test_|^async def test_",
                    (project.directory / "tests" / "test_assistant.py").read_text(),
                    re.MULTILINE,
                )
            )
            assert re.search(rf"\b{tests} passed\b", output), output
            assert " failed" not in output and " error" not in output, output
        else:
            raise AssertionError(f"unknown testing-example action {step.action!r}")
