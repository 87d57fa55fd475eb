"""The ``qsession`` command line: diagrams, the demo, verification and trace tools."""
