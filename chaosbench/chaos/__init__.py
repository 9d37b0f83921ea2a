"""chaos: profiles, the scheduler, the fault catalogue, the fault proxy and the safety net."""
