"""A vault of 100,000 files of which 99 % are not notes: finding the notes, starting the watcher, and one
re-index after a note is added (hash embedder: this measures the file handling, not the model).

    python benchmarks/many_files.py [--files 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from notebot.apps.watch import IndexKeeper, NoteWatcher
from notebot.ingest.load import find_note_files
from notebot.settings import Settings
from notebot.store import read_manifest
from notebot.store.build import build_index

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    vault, index_dir = OUT / "many-files", OUT / "many-files-index"
    shutil.rmtree(vault, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    notes = args.files // 100
    for n in range(args.files):
        folder = vault / f"folder-{n % 100:02d}" / ("notes" if n < notes else "attachments")
        folder.mkdir(parents=True, exist_ok=True)
        if n < notes:
            (folder / f"note-{n}.md").write_text(f"# Note {n}\n- fact number {n}\n", encoding="utf-8")
        else:
            (folder / f"image-{n}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    results = {"files": args.files, "notes": notes}
    started = time.perf_counter()
    assert len(find_note_files(vault)) == notes
    results["find_notes_seconds"] = round(time.perf_counter() - started, 2)
    settings = Settings.load(environ={}, corpus_dir=vault, index_dir=index_dir, embedder="hash")
    started = time.perf_counter()
    build_index(settings)
    results["first_index_seconds"] = round(time.perf_counter() - started, 2)
    keeper = IndexKeeper(lambda **options: build_index(settings, **options), lambda: read_manifest(settings)).start()
    started = time.perf_counter()
    watcher = NoteWatcher(vault, keeper).start()
    results["watcher_start_seconds"] = round(time.perf_counter() - started, 2)
    results["watcher"] = watcher.kind
    started = time.perf_counter()
    (vault / "folder-07" / "notes" / "new.md").write_text("# New\n- a new fact\n", encoding="utf-8")
    while not any(f["path"] == "folder-07/notes/new.md" for f in read_manifest(settings)["corpus"]["files"]):
        time.sleep(0.05)
    results["new_note_indexed_seconds"] = round(time.perf_counter() - started, 2)
    watcher.stop()
    keeper.stop()
    shutil.rmtree(vault, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
