"""Packaging lives in pyproject.toml; this file only maps the top-level resources/ folder (icons, style
sheets, the OpenAPI document) into the installed package as ``backoffice.resources``."""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["backoffice", "backoffice.*"]) + ["backoffice.resources"],
    package_dir={"backoffice.resources": "resources"},
)
