"""Test-wide setup: the Hypothesis profile (``ci`` under CI, ``dev`` otherwise), pytester.

``pytester`` (pytest's own plugin for testing plugins) runs the user test files of
tests/pytest_plugin; pytest accepts ``pytest_plugins`` only in this top-level conftest.
"""

from qsession.properties.profiles import load_profile

pytest_plugins = ["pytester"]

load_profile()
