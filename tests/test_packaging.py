"""The package's own metadata: installing it prints no warning caused by our files."""

from __future__ import annotations

import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_applies_without_a_setuptools_warning():
    # A `license` table is deprecated since setuptools 77 and warned about three times on every install.
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    ours = [str(w.message) for w in caught if "license" in str(w.message).lower()]
    assert ours == [] and dist.metadata.license_expression == "MIT"


def test_the_build_requires_a_setuptools_that_reads_spdx_licenses():
    import tomllib

    from packaging.requirements import Requirement

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    setuptools = next(Requirement(r) for r in requires if Requirement(r).name == "setuptools")
    assert not setuptools.specifier.contains("76.9") and setuptools.specifier.contains("77.0")
