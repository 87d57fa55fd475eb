"""Test-wide setup: the Hypothesis profile (``ci`` under CI, ``dev`` otherwise)."""

from qsession.properties.profiles import load_profile

load_profile()
