"""The runtime: clocks, a scheduler driven by the model, an Aer QPU, and the event trace."""
