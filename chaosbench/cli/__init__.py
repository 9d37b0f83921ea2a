"""The command line: ``chaosbench run|validate|plan|analyze|reset|proxy|sut``."""
