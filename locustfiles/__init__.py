"""The bundled locustfiles (``chaosbench.bundled.locustfiles``, see chaosbench/bundled).

Locust loads each file here by path (``locust -f locustfiles/``) and skips names starting with
``_``; they import ``_harness`` as a top-level module, so they are not imported as a package.
"""
