"""What the benchmarks run on that is not a benchmark itself (so `make benchmarks`, which runs each
benchmarks/*.py, passes it by): the web service on loopback and an untrained stand-in champion.
The tests use them too; benchmarks never import from tests/."""
