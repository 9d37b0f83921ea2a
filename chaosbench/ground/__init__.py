"""The ground: errors, clocks, the phase timeline, the journal model, events and the switches
that in-process faults set. It imports nothing of chaosbench above it."""
