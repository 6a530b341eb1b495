"""The stadtnetz test suite (a package so that ``tests.support`` imports from the project root)."""
