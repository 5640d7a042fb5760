"""Defaults of the pipeline benchmark, apart so the CLI's parser can show them without
importing the benchmark (which loads the demo, the broker and numpy)."""

BENCH_ACCOUNTS = 8_000  # accounts in the simulated world
BENCH_SEED = 77
CAPACITY_EVENTS = 30_000  # the burst that measures capacity
CAPACITY_WORKERS = (1, 2)  # worker counts capacity is measured with
OFFERED_LOADS = (1_000, 5_000, 10_000)  # events/s
LOAD_SECONDS = 15.0  # length of each offered load
