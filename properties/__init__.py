"""The property suite: SPEC invariants over traces, Hypothesis machines and the explorer."""
