"""The Locust wiring: options, listeners and messages that tie chaos, users and analysis to one
Locust Environment. ``import chaosbench.harness`` installs it."""
