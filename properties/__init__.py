"""The property suite: invariants over traces, Hypothesis machines and the explorer."""
