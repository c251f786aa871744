"""The index-state faults of issue 10, re-run as a table: does each case hold?

    PYTHONPATH=src python benchmarks/faults.py [--pairs 10] [--wide ../shared/corpus-wide]
                                               [--seed-cache ../data/wide-index/embed-cache.sqlite]

Every case runs real `notebot` processes on copies of the notes under benchmarks/out/faults/ and then
checks the index folder the way a user's next command would meet it: it loads, holds every note
(and the edit just made), and no data file is left that the manifest does not name.

  pairs        two index runs at once (CLI vs CLI, the UI's re-index vs CLI), after a one-line edit
               so that both must write; hash and e5 embedders, corpus/ and the ~175-note wide corpus
  kill -9      a writer killed while it holds the index; the next run must not wait for a dead lock
  cache        bad pages inside embed-cache.sqlite (header intact): `index` and `index --rebuild`
  data file    a vectors file with flipped bytes, a truncated chunks file: must be repaired from the
               cache without re-embedding (not reported "up to date")
  readers      index loads in another process while a writer rebuilds: no false "damaged"
  disk full    a small tmpfs (in a private mount namespace) that the next build overflows, and a
               read-only folder: one-line error, the previous index intact, no partial files left

The e5 cases start from --seed-cache (an e5 embedding cache holding these notes, e.g. the one a
previous `notebot index` left), since the faults are about writing, not embedding; without it they
begin with one cold build. The e5 case on the wide notes runs only when the seed holds them (4,000+ vectors).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "faults"
DATA_PREFIXES = ("chunks", "vectors", "lexical", "build")  # format-1 data files, format-2 build folders
sys.path.insert(0, str(ROOT / "src"))

from notebot.errors import NotebotError  # noqa: E402
from notebot.store.local import CACHE_FILE, MANIFEST, LocalIndex  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
UI_BUILD = """
import sys
from notebot.apps.ui import NotebotApp
from notebot.settings import Settings
NotebotApp(Settings.load(corpus_dir=sys.argv[1], index_dir=sys.argv[2])).build()
"""


def notebot(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "notebot", *args], env={**ENV, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def ui_build(corpus: Path, index: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", UI_BUILD, str(corpus), str(index)], env={**ENV, **(env or {})},
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen, timeout: float = 1800) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def index_problem(index_dir: Path, must_contain: str = "") -> str | None:
    """What is wrong with the index folder as the next command meets it, or None."""
    try:
        index = LocalIndex.load(index_dir)
    except NotebotError as problem:
        return f"does not load: {problem}"
    stray = sorted(p.name for p in index_dir.iterdir()
                   if p.name.split("-", 1)[0] in DATA_PREFIXES and p.name != index.manifest.get("build")
                   or p.name.endswith(".tmp"))
    if stray:
        return f"stray files: {', '.join(stray[:3])}"
    if must_contain and not any(must_contain in chunk.text for chunk in index.chunks):
        return f"lost the edit {must_contain!r}"
    return None


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def one_line_error(rc: int, err: str) -> str | None:
    if rc == 0:
        return "exit 0"
    if "Traceback" in err:
        return "traceback: " + err.strip().splitlines()[-1][:120]
    if len(error_lines(err)) != 1:
        return f"{len(error_lines(err))} error lines"
    return None


def edit(corpus: Path, marker: str) -> None:
    """A one-line edit to the first note, so the next build must write."""
    note = sorted(corpus.rglob("*.md"))[0]
    note.write_text(note.read_text(encoding="utf-8") + f"\n\n## Edit\n{marker}\n", encoding="utf-8")


def fresh_copy(notes: Path, name: str, seed_cache: Path | None = None) -> tuple[Path, Path]:
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(notes, work / "notes")
    (work / "index").mkdir(parents=True)
    if seed_cache and seed_cache.exists():
        copy_sqlite(seed_cache, work / "index" / CACHE_FILE)
    return work / "notes", work / "index"


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy even while another process writes the source."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


# ---- the cases ---------------------------------------------------------------------------------

def pairs(notes: Path, name: str, count: int, embedder: str, seed: Path | None, ui: bool = False,
          lock_timeout: str | None = None) -> list[str | None]:
    corpus, index = fresh_copy(notes, name, seed)
    env = {"NOTEBOT_EMBEDDER": embedder} | ({"NOTEBOT_LOCK_TIMEOUT": lock_timeout} if lock_timeout else {})
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    assert rc == 0, err
    outcomes = []
    for i in range(count):
        marker = f"pair {i} edit {time.time_ns()}"
        edit(corpus, marker)
        first = ui_build(corpus, index, env) if ui else notebot("index", str(corpus), "--index-dir", str(index), env=env)
        second = notebot("index", str(corpus), "--index-dir", str(index), env=env)
        results = [finish(first), finish(second)]
        problem = None
        for rc, err in results:
            refused_clearly = rc == 1 and len(error_lines(err)) == 1 and "is being written by" in err
            if rc != 0 and not refused_clearly:
                problem = f"a run failed: {(error_lines(err) or err.strip().splitlines() or ['?'])[-1][:120]}"
        outcomes.append(problem or index_problem(index, marker))
    return outcomes


def killed_writer(notes: Path, count: int) -> list[str | None]:
    corpus, index = fresh_copy(notes, "kill9")
    outcomes = []
    for i in range(count):
        writer = notebot("index", str(corpus), "--index-dir", str(index), "--rebuild", env={"NOTEBOT_EMBEDDER": "hash"})
        time.sleep(0.5 + 0.3 * i)  # at different points of the build
        writer.send_signal(signal.SIGKILL)
        finish(writer)
        started = time.perf_counter()
        rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index),
                                 env={"NOTEBOT_EMBEDDER": "hash", "NOTEBOT_LOCK_TIMEOUT": "5"}))
        if rc != 0:
            outcomes.append(f"next run failed after {time.perf_counter() - started:.1f} s: {error_lines(err)[-1:]}")
        else:
            outcomes.append(index_problem(index))
    return outcomes


def damaged_cache(notes: Path, rebuild: bool) -> list[str | None]:
    corpus, index = fresh_copy(notes, f"cache-{'rebuild' if rebuild else 'index'}")
    env = {"NOTEBOT_EMBEDDER": "hash"}
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    assert rc == 0, err
    cache = index / CACHE_FILE
    data = bytearray(cache.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # every page but the first (header + schema)
    cache.write_bytes(bytes(data))
    marker = f"new note {time.time_ns()}"
    (corpus / "zz-new.md").write_text(f"# New\n{marker}\n", encoding="utf-8")
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), *(["--rebuild"] if rebuild else []), env=env))
    if rc != 0:
        return [f"index failed: {(error_lines(err) or err.strip().splitlines())[-1][:120]}"]
    if "embedding cache" not in err:
        return ["no warning about the damaged cache"]
    return [index_problem(index, marker)]


def damaged_data_file(notes: Path, which: str) -> list[str | None]:
    import numpy as np

    corpus, index = fresh_copy(notes, f"data-{which}")
    env = {"NOTEBOT_EMBEDDER": "hash"}
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    assert rc == 0, err
    manifest = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    build = index / manifest["build"]  # index format 2: data files in build-<id>/ (store/local.py)
    vectors_file = build / "vectors.npy"
    original = np.load(vectors_file).copy()
    if which == "vectors":
        data = bytearray(vectors_file.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])  # same size, wrong numbers
        vectors_file.write_bytes(bytes(data))
    else:
        chunks_file = build / "chunks.jsonl"
        chunks_file.write_bytes(chunks_file.read_bytes()[: chunks_file.stat().st_size // 2])
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    if rc != 0:
        return [f"index failed: {(error_lines(err) or err.strip().splitlines())[-1][:120]}"]
    if "up to date" in err:
        return ["reported up to date, not repaired"]
    if "embedded 0" not in err:
        return ["repaired by re-embedding, not from the cache: " + err.strip().splitlines()[-1][:100]]
    problem = index_problem(index)
    if problem:
        return [problem]
    after = LocalIndex.load(index).vectors
    return [None if (np.asarray(after) == original).all() else "vectors differ from the originals"]


READER = """
import sys, time
from notebot.errors import NotebotError
from notebot.store.local import LocalIndex
loads = failures = 0
first = ""
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        LocalIndex.load(sys.argv[1])
    except NotebotError as problem:
        failures += 1
        first = first or str(problem)
    loads += 1
print(loads, failures, first)
"""


def readers_during_rebuild(notes: Path, rebuilds: int) -> tuple[list[str | None], str]:
    corpus, index = fresh_copy(notes, "readers")
    env = {"NOTEBOT_EMBEDDER": "hash"}
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    assert rc == 0, err
    seconds = 2.0 * rebuilds + 5
    reader = subprocess.Popen([sys.executable, "-c", READER, str(index), str(seconds)], env=ENV, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.monotonic()
    done = 0
    while time.monotonic() - started < seconds - 1:
        edit(corpus, f"rebuild {done}")
        finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
        done += 1
    out, err = reader.communicate(timeout=seconds + 120)
    loads, failures, *first = out.split(" ", 2) if out.strip() else ("0", "1", err.strip()[-120:])
    detail = f"{loads} loads during {done} rebuilds, {failures} refused"
    return ([None] * (int(loads) - int(failures)) + [f"false alarm: {' '.join(first).strip()[:120]}"] * int(failures)), detail


DISK_FULL = """
set -e
mount -t tmpfs -o size={size} tmpfs {mount}
cp -a {index}/. {mount}/
{python} -m notebot index {corpus} --index-dir {mount} 2>{err} && echo 0 >{rc} || echo $? >{rc}
ls -a {mount} >{listing}
{python} -c "from notebot.store.local import LocalIndex; print(len(LocalIndex.load('{mount}').chunks))" >{loaded} 2>&1 || true
umount {mount}
"""


def disk_full(notes: Path, at: str) -> list[str | None]:
    """A tmpfs that holds the previous index (and, for `at="data"`, an embedding cache that already has
    every vector) but not the next build: the build fails in the cache, or while writing data files."""
    corpus, index = fresh_copy(notes, f"disk-full-{at}")
    env = {"NOTEBOT_EMBEDDER": "hash"}
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    assert rc == 0, err
    chunks = len(LocalIndex.load(index).chunks)
    (corpus / "zz-bigger.md").write_text("# Bigger\n" + "".join(f"- line {i} 对象存储 S3\n\n" for i in range(4000)), encoding="utf-8")
    if at == "data":  # embed the bigger notes elsewhere first, so only the data files need new space
        scratch = index.parent / "scratch"
        rc, err = finish(notebot("index", str(corpus), "--index-dir", str(scratch), env=env))
        assert rc == 0, err
        shutil.copyfile(scratch / CACHE_FILE, index / CACHE_FILE)
        shutil.rmtree(scratch)
    used = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    work = index.parent
    paths = {name: work / name for name in ("mnt", "err", "rc", "listing", "loaded")}
    paths["mnt"].mkdir()
    script = DISK_FULL.format(size=int(used * 1.3) // 4096 * 4096 + 4096, mount=paths["mnt"], index=index, python=sys.executable,
                              corpus=corpus, err=paths["err"], rc=paths["rc"], listing=paths["listing"], loaded=paths["loaded"])
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], env={**ENV, **env}, capture_output=True, text=True)
    if run.returncode != 0 or not paths["rc"].exists():
        return [f"could not make a small tmpfs here: {run.stderr.strip()[:100]}"]
    problem = one_line_error(int(paths["rc"].read_text()), paths["err"].read_text())
    listing = paths["listing"].read_text().split()
    stray = [name for name in listing if name.endswith(".tmp") or name.split("-", 1)[0] in DATA_PREFIXES]
    current = json.loads((index / MANIFEST).read_text(encoding="utf-8")).get("build")  # format 2: one build folder
    stray = [name for name in stray if name != current]
    loaded = paths["loaded"].read_text().strip()
    return [problem or (f"partial files left: {', '.join(stray[:3])}" if stray else None)
            or (None if loaded == str(chunks) else f"previous index lost: {loaded[-100:]}")]


READ_ONLY = """
set -e
mount --bind {index} {index}
mount -o remount,ro,bind {index}
{python} -m notebot index {corpus} --index-dir {index} 2>{err} && echo 0 >{rc} || echo $? >{rc}
umount {index}
"""


def read_only(notes: Path) -> list[str | None]:
    corpus, index = fresh_copy(notes, "read-only")
    env = {"NOTEBOT_EMBEDDER": "hash"}
    rc, err = finish(notebot("index", str(corpus), "--index-dir", str(index), env=env))
    assert rc == 0, err
    edit(corpus, "read-only edit")
    err_path, rc_path = index.parent / "err", index.parent / "rc"
    script = READ_ONLY.format(index=index, python=sys.executable, corpus=corpus, err=err_path, rc=rc_path)
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], env={**ENV, **env}, capture_output=True, text=True)
    if run.returncode != 0 or not rc_path.exists():
        return [f"could not make a read-only mount here: {run.stderr.strip()[:100]}"]
    return [one_line_error(int(rc_path.read_text()), err_path.read_text()) or index_problem(index)]


# ---- the table ---------------------------------------------------------------------------------

def row(case: str, outcomes: list[str | None], detail: str = "") -> str:
    failed = [o for o in outcomes if o]
    verdict = "held" if not failed else "**failed**"
    note = detail or (failed[0] if failed else "")
    if failed and detail:
        note += f"; {failed[0]}"
    print(f"  {case}: {len(outcomes) - len(failed)}/{len(outcomes)} {verdict} {note}", file=sys.stderr, flush=True)
    return f"| {case} | {len(outcomes)} | {len(outcomes) - len(failed)} | {len(failed)} | {verdict} | {note.replace('|', '/')} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--wide", type=Path, help="more notes for the bigger-corpus cases (../shared/corpus-wide)")
    parser.add_argument("--seed-cache", type=Path, help="an e5 embedding cache holding these notes' vectors, to seed the e5 cases from")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--src", type=Path, help="run the notebot under test from this checkout (its src/), for a before/after table")
    parser.add_argument("--only", help="run only the cases whose name contains one of these comma-separated words")
    args = parser.parse_args()
    if args.src:
        ENV["PYTHONPATH"] = str(args.src.resolve() / "src")
    OUT.mkdir(parents=True, exist_ok=True)

    seed, seeded = None, 0
    if args.seed_cache and args.seed_cache.exists():
        seed = OUT / "seed-cache.sqlite"
        seed.unlink(missing_ok=True)
        copy_sqlite(args.seed_cache, seed)
        with sqlite3.connect(seed) as db:
            seeded = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    wide = None
    if args.wide:
        wide = OUT / "wide-notes"
        shutil.rmtree(wide, ignore_errors=True)
        shutil.copytree(args.wide, wide)
        shutil.copytree(args.corpus, wide, dirs_exist_ok=True)  # the layout of retrieval.py --distractors

    cases = [
        ("CLI vs CLI, hash, corpus/", lambda: pairs(args.corpus, "pairs-hash", args.pairs, "hash", None)),
        ("CLI vs CLI, hash, corpus/, NOTEBOT_LOCK_TIMEOUT=0", lambda: pairs(args.corpus, "pairs-nowait", args.pairs, "hash", None, lock_timeout="0")),
        ("CLI vs CLI, e5, corpus/", lambda: pairs(args.corpus, "pairs-e5", args.pairs, "e5-small-q4", seed)),
        ("UI re-index vs CLI, e5, corpus/", lambda: pairs(args.corpus, "pairs-ui", args.pairs, "e5-small-q4", seed, ui=True)),
    ]
    if wide:
        cases.append(("CLI vs CLI, hash, wide (175 notes)", lambda: pairs(wide, "pairs-wide-hash", max(args.pairs // 2, 1), "hash", None)))
        if seeded >= 4000:
            cases.append(("CLI vs CLI, e5, wide (175 notes)", lambda: pairs(wide, "pairs-wide-e5", max(args.pairs // 2, 1), "e5-small-q4", seed)))
    big = wide or args.corpus
    cases += [
        ("writer killed (kill -9) holding the lock, next run", lambda: killed_writer(big, 5)),
        ("cache: bad pages, `index`", lambda: damaged_cache(big, rebuild=False)),
        ("cache: bad pages, `index --rebuild`", lambda: damaged_cache(big, rebuild=True)),
        ("data file: flipped bytes in vectors (item 3)", lambda: damaged_data_file(args.corpus, "vectors")),
        ("data file: truncated chunks (item 3)", lambda: damaged_data_file(args.corpus, "chunks")),
        ("readers during rebuilds (item 4)", lambda: readers_during_rebuild(args.corpus, 20)),
        ("disk full while growing the cache", lambda: disk_full(args.corpus, "cache")),
        ("disk full while writing data files (item 5)", lambda: disk_full(args.corpus, "data")),
        ("read-only index folder (item 5)", lambda: read_only(args.corpus)),
    ]
    lines = ["| case | runs | held | failed | verdict | note |", "|---|---|---|---|---|---|"]
    for name, case in cases:
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        started = time.perf_counter()
        result = case()
        outcomes, detail = result if isinstance(result, tuple) else (result, "")
        lines.append(row(name, outcomes, detail))
        print(f"    ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
