"""Install the layer folders app/, core/, jobs/ and pages/ as subpackages of ``tickdeck``.

The repository keeps them at the top level; installed, only ``tickdeck`` is in site-packages, so a
user's own ``app.py`` or ``core/`` cannot shadow them. Everything else is in pyproject.toml.
"""
from setuptools import find_packages, setup

LAYERS = ("app", "core", "jobs", "pages")

packages = ["tickdeck"]
for layer in LAYERS:
    packages += [f"tickdeck.{layer}"] + [f"tickdeck.{layer}.{sub}" for sub in find_packages(layer)]

setup(packages=packages, package_dir={"tickdeck": "tickdeck", **{f"tickdeck.{layer}": layer for layer in LAYERS}})
