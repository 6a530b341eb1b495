"""Support code shared by the tests and the benchmarks (real components started as child processes)."""
