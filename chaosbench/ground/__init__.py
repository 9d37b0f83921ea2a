"""The ground: errors, clocks, the phase timeline, the journal model, events, the integrity
counters, the switches that in-process faults set, and the run state that holds one run's
timeline, events, counters and switches (``chaosbench.ground.state.RunState``; no module-level
instance). It imports nothing of chaosbench above it."""
