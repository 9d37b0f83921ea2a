"""The packages of the distribution (everything else is in pyproject.toml).

Besides ``chaosbench`` and its subpackages, the top-level ``profiles/``, ``gates/`` and
``locustfiles/`` (the source of truth in the repository) become ``chaosbench.bundled.*``: the
wheel carries them and an editable install maps them in place (chaosbench/bundled reads them).
"""

from setuptools import find_packages, setup

BUNDLED = {
    f"chaosbench.bundled.{folder}": folder for folder in ("profiles", "gates", "locustfiles")
}

#: folders of non-Python files inside the package (templates, the web UI's static files): declared
#: as packages of their own so that setuptools installs them without warning that it guesses.
DATA = ["chaosbench.analysis.report.templates", "chaosbench.wiring.webui.static"]

setup(
    packages=[*find_packages(include=["chaosbench", "chaosbench.*"]), *DATA, *BUNDLED],
    package_dir=BUNDLED,
)
