"""Keep the index fresh while notes change, and finish a big first index in the background.

`IndexKeeper` runs re-index rounds on one background thread: after notes change (debounced, so
a save storm is one round) and while the index's vectors are incomplete (a first run embeds in
batches: lexical search works at once, each round swaps in an index with more vectors). Each
round is an ordinary incremental build_index — only changed text is embedded, the cache keeps
every finished batch, and the manifest swap is atomic — so questions keep using the previous
index until the new one is in, and a crash or Ctrl-C loses nothing already embedded. With nothing
else to do it embeds the note lines answers quote into the index's cache and gathers them for search's
line ranking (search/line_ranking.py warm_lines), so a new question need not wait for them and
passages rank by their best line; any change interrupts it.

`NoteWatcher` feeds it file events from watchdog (inotify/FSEvents/…, or polling where OS events
don't exist), keeping only notes outside hidden folders.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import NotebotError
from ..ingest.load import NOTE_SUFFIXES
from ..settings import Settings

log = logging.getLogger("notebot.watch")

DEBOUNCE_SECONDS = 0.4  # quiet time after the last save before re-indexing
MAX_DELAY_SECONDS = 5.0  # a save storm that never pauses still re-indexes this often
EMBED_ROUND = 400  # chunks embedded per background round on a first run (~1 min of e5-small on 2 cores)
WARM_LINES: set[str] = set()  # _next_round's answer when the next thing to do is warming the line cache


@dataclass
class Change:
    """What one re-index changed, for people: '+1 file (3 chunks), 1 changed, −1 file'."""

    at: datetime
    added: dict[str, int] = field(default_factory=dict)  # path -> chunks
    removed: list[str] = field(default_factory=list)
    changed: dict[str, int] = field(default_factory=dict)
    embedded: int = 0
    chunks: int = 0
    vectors: dict = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        if self.added:
            parts.append(f"+{_count(len(self.added), 'file')} ({_count(sum(self.added.values()), 'chunk')})")
        if self.changed:
            parts.append(f"{len(self.changed)} changed ({', '.join(sorted(self.changed)[:3])}{', …' if len(self.changed) > 3 else ''})")
        if self.removed:
            parts.append(f"−{_count(len(self.removed), 'file')}")
        if self.embedded:
            parts.append(f"{_count(self.embedded, 'chunk')} embedded")
        if not self.vectors.get("complete", True):
            parts.append(embedding_progress(self.vectors))
        return ", ".join(parts) or "no visible change"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def embedding_progress(vectors: dict) -> str:
    return f"embedded {vectors['embedded']:,} of {vectors['total']:,} chunks"


def describe_change(before: dict | None, after: dict, touched: set[str], report: dict) -> Change:
    old = {entry["path"]: entry["chunks"] for entry in (before or {}).get("corpus", {}).get("files", [])}
    new = {entry["path"]: entry["chunks"] for entry in after["corpus"]["files"]}
    return Change(
        at=datetime.now().astimezone(),
        added={path: new[path] for path in new.keys() - old.keys()},
        removed=sorted(old.keys() - new.keys()),
        changed={path: new[path] for path in touched if path in new and path in old},
        embedded=report.get("embedded", 0),
        chunks=after["counts"]["chunks"],
        vectors=after.get("vectors", {}),
    )


class IndexKeeper:
    """Background re-index rounds: after changes (debounced) and until every chunk has its vector.

    `build(max_new_embeddings=…)` runs one incremental build and swaps the result in (returning
    build_index's report); `manifest()` gives the manifest now being served, or None.
    """

    def __init__(self, build: Callable[..., dict], manifest: Callable[[], dict | None],
                 on_change: Callable[[Change], None] = lambda change: None,
                 debounce: float = DEBOUNCE_SECONDS, max_delay: float = MAX_DELAY_SECONDS, embed_round: int = EMBED_ROUND,
                 warm_lines: Callable[[Callable[[], bool]], int | None] | None = None):
        self._build = build
        self._manifest = manifest
        self._on_change = on_change
        # Once nothing else is to do: embed the lines answers quote and search ranks by
        # (search/line_ranking.py warm_lines), stopping for any change; again after each round that changed the index.
        self._warm_lines = warm_lines
        self.lines_warm = warm_lines is None
        self.warming = False
        self.debounce, self.max_delay, self.embed_round = debounce, max_delay, embed_round
        self._wake = threading.Condition()
        self._touched: set[str] = set()
        self._first_event = self._last_event = None
        self._stopping = False
        self._thread = None
        self.rounds = 0  # builds that wrote a new index
        self.last_change: Change | None = None
        self.last_error = ""
        self.busy = False
        self.last_round: dict = {}  # monotonic start, seconds (build + swap), build_seconds: for benchmarks

    # -- events -----------------------------------------------------------------------------
    def notify(self, paths: set[str] | None = None) -> None:
        """Notes changed (paths relative to the corpus, when known): re-index once things are quiet."""
        with self._wake:
            now = time.monotonic()
            self._touched |= paths or set()
            self._first_event = self._first_event or now
            self._last_event = now
            self._wake.notify_all()

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> "IndexKeeper":
        self._thread = threading.Thread(target=self._run, name="notebot-index-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no change is pending, no round is running and the vectors are complete."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:
                idle = self._first_event is None and not self.busy and self._vectors_complete()
            if idle:
                return True
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        _background_priority()
        while True:
            touched = self._next_round()
            if touched is None:
                return
            try:
                self._warm_round() if touched is WARM_LINES else self._round(touched)
            except Exception as problem:  # noqa: BLE001 - the watcher must outlive any one bad round
                self._failed(problem, set() if touched is WARM_LINES else touched)

    def _next_round(self) -> set[str] | None:
        """Wait for the next round: changes gone quiet (or waiting too long), or vectors still to embed."""
        with self._wake:
            while not self._stopping:
                now = time.monotonic()
                if self._first_event is not None:
                    quiet, waited = now - self._last_event, now - self._first_event
                    if quiet >= self.debounce or waited >= self.max_delay:
                        break
                    self._wake.wait(min(self.debounce - quiet, self.max_delay - waited))
                elif not self.last_error and not self._vectors_complete():
                    break  # a first run still embedding (after a failure, wait for the next change instead)
                elif not self.lines_warm and not self.last_error:
                    return WARM_LINES
                else:
                    self._wake.wait()
            if self._stopping:
                return None
            touched, self._touched = self._touched, set()
            self._first_event = self._last_event = None
            self.busy = True
            return touched

    def _round(self, touched: set[str]) -> None:
        started = time.monotonic()
        try:
            before = self._manifest()
            report = self._build(max_new_embeddings=self.embed_round)
            self.last_round = {"started": started, "seconds": time.monotonic() - started, "build_seconds": report.get("seconds")}
            self.last_error = ""
            if report.get("up_to_date"):
                return
            self.rounds += 1
            self.lines_warm = self._warm_lines is None
            change = describe_change(before, self._manifest(), touched, report)
            self.last_change = change
            self._on_change(change)
        finally:
            with self._wake:
                self.busy = False

    def _warm_round(self) -> None:
        started = time.monotonic()
        self.warming = True
        try:
            embedded = self._warm_lines(lambda: self._stopping or self._first_event is not None)
        finally:
            self.warming = False
            self.lines_warm = True  # not again before the next change, also after a failure
        if embedded is None:
            self.lines_warm = False  # interrupted by a change: carry on after its round
        elif embedded:
            log.info("embedded %d note lines for quoting in %.0f s", embedded, time.monotonic() - started)

    def _failed(self, problem: Exception, touched: set[str]) -> None:
        if isinstance(problem, NotebotError):
            self.last_error = str(problem)
            log.warning("re-index failed: %s (retrying when notes change)", problem)
        else:
            self.last_error = f"{type(problem).__name__}: {problem}"
            log.exception("re-index failed (retrying when notes change)")
        with self._wake:
            self._touched |= touched

    def _vectors_complete(self) -> bool:
        try:
            manifest = self._manifest()
        except NotebotError:
            return True  # no index to complete yet: the first change builds one
        return manifest is None or manifest.get("vectors", {}).get("complete", True)

    # -- what people see --------------------------------------------------------------------
    def status(self) -> str:
        """One line for the UI and the terminal: progress, the last change and when, any problem."""
        parts = []
        try:
            manifest = self._manifest()
        except NotebotError:
            manifest = None
        vectors = (manifest or {}).get("vectors", {})
        if vectors and not vectors.get("complete", True):
            parts.append(f"⏳ {embedding_progress(vectors)} (keyword search is complete; meaning search improves as it goes)")
        if self.busy:
            parts.append("re-indexing…")
        elif self.warming:
            parts.append("⏳ embedding note lines (new questions are answered faster, and passages ranked by their best line, once done)")
        if self.last_change:
            parts.append(f"last change {self.last_change.at:%H:%M:%S}: {self.last_change.summary()}")
        if self.last_error:
            parts.append(f"⚠️ {self.last_error}")
        return " · ".join(parts)


BACKGROUND_NICE = 10


def _background_priority() -> None:
    """Run this thread (and the OpenMP threads it starts, which inherit it) at a lower CPU priority, so
    re-indexing and a first run's embedding never slow the questions being answered meanwhile (nor a
    web framework starting): on a first run beside gradio's start, embedding at the same priority cost
    ~30 s before the first answer under load. Linux: niceness is per thread there; elsewhere a no-op."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (AttributeError, OSError):
        pass


def is_note_event(relative: Path) -> bool:
    """A note (or a folder that may hold notes) outside hidden folders such as .obsidian/ and .trash/."""
    if any(part.startswith(".") for part in relative.parts):
        return False
    return relative.suffix.lower() in NOTE_SUFFIXES or relative.suffix == ""


class NoteWatcher:
    """watchdog on the corpus folder (OS events, or polling when they are unavailable) → keeper.notify."""

    def __init__(self, corpus_dir: Path, keeper: IndexKeeper, poll: bool = False, poll_interval: float = 1.0):
        self.corpus_dir = Path(corpus_dir).resolve()
        self.keeper = keeper
        self.poll = poll
        self.poll_interval = poll_interval
        self.observer = None
        self.kind = ""

    def start(self) -> "NoteWatcher":
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        if not self.corpus_dir.is_dir():
            raise NotebotError(f"corpus folder {self.corpus_dir} does not exist", "create it or pass another folder")
        handler = _event_handler(self)
        if not self.poll:
            try:
                self.observer = Observer()
                self.observer.schedule(handler, str(self.corpus_dir), recursive=True)
                self.observer.start()
                self.kind = type(self.observer).__name__
                return self
            except OSError as problem:  # e.g. the inotify watch limit: fall back, don't fail
                log.warning("file events unavailable (%s): polling every %.0f s instead", problem, self.poll_interval)
        self.observer = PollingObserver(timeout=self.poll_interval)
        self.observer.schedule(handler, str(self.corpus_dir), recursive=True)
        self.observer.start()
        self.kind = "PollingObserver"
        return self

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(10)

    def relevant(self, path: str) -> str | None:
        try:
            relative = Path(path).resolve().relative_to(self.corpus_dir) if Path(path).is_absolute() else Path(path)
        except (ValueError, OSError):
            return None
        return relative.as_posix() if relative.parts and is_note_event(relative) else None


def _event_handler(watcher: NoteWatcher):
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return  # reads (including our own) change nothing
            paths = {watcher.relevant(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p}
            paths.discard(None)
            if paths:
                watcher.keeper.notify(paths)

    return Handler()


# ---- `notebot watch` --------------------------------------------------------------------------

def configure_parser(parser) -> None:
    parser.add_argument("corpus", nargs="?", type=Path, help="notes folder to watch (default: corpus)")
    parser.add_argument("--poll", action="store_true", help="poll for changes instead of OS file events (network drives)")


def run(args, settings: Settings) -> int:
    """Index, then re-index whenever notes change, until Ctrl-C; one line per change on stderr."""

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    def show(change: Change) -> None:
        print(f"{change.at:%H:%M:%S} re-indexed: {change.summary()}", file=sys.stderr, flush=True)

    report = build_keyword_index_first(settings, warn)
    if report:
        print(f"indexed {report['files']} files, {report['chunks']} chunks for keyword search; embedding in the background",
              file=sys.stderr, flush=True)
    keeper, watcher = keep_disk_index(settings, watch=True, poll=args.poll, warn=warn, on_change=show)
    print(f"watching {settings.corpus_dir} ({watcher.kind}) -> {settings.index_dir}; Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping: the index on disk is complete as of the last re-index", file=sys.stderr)
    finally:
        watcher.stop()
        keeper.stop(timeout=5)
    return 0


def keep_app_index(app, watch: bool, poll: bool = False) -> IndexKeeper:
    """For `notebot serve`: finish embedding in the background and, with watch, follow note changes.

    `app` is the UI's NotebotApp: app.build(wait=True, max_new_embeddings=…) re-indexes and swaps
    the new index in; app.index is the one being served."""

    def build(**options) -> dict:
        return app.build(wait=True, **options)

    from ..search.line_ranking import warm_lines

    keeper = IndexKeeper(build, lambda: app.index.manifest,
                         on_change=lambda change: log.info("re-indexed: %s", change.summary()),
                         warm_lines=lambda should_stop: warm_lines(app.index, should_stop))
    if watch:
        watcher = NoteWatcher(app.settings.corpus_dir, keeper, poll=poll).start()
        keeper.notify()  # catch up with edits made while nothing was watching
        log.info("watching %s for note changes (%s)", app.settings.corpus_dir, watcher.kind)
    return keeper.start()


def keep_disk_index(settings: Settings, watch: bool, poll: bool = False, warn: Callable[[str], None] = log.warning,
                    on_change: Callable[[Change], None] | None = None,
                    index: Callable[[], object] | None = None) -> tuple[IndexKeeper, NoteWatcher | None]:
    """For `notebot watch` and `notebot mcp`: keep the index folder fresh; readers follow its manifest.
    `index` gives the loaded index whose embedder warms the line cache (default: the folder's, opened)."""
    from ..search.line_ranking import warm_lines
    from ..store import index_exists, open_index, read_manifest
    from ..store.build import build_index

    def build(**options) -> dict:
        return build_index(settings, warn=warn, **options)

    def manifest() -> dict | None:
        return read_manifest(settings) if index_exists(settings) else None

    served = index or (lambda: open_index(settings))
    keeper = IndexKeeper(build, manifest, on_change=on_change or (lambda change: log.info("re-indexed: %s", change.summary())),
                         warm_lines=lambda should_stop: warm_lines(served(), should_stop))
    watcher = None
    if watch:
        watcher = NoteWatcher(settings.corpus_dir, keeper, poll=poll).start()
        keeper.notify()  # catch up with edits made while nothing was watching
    return keeper.start(), watcher


def build_keyword_index_first(settings: Settings, warn: Callable[[str], None] = log.warning) -> dict | None:
    """No index yet: a keyword-only one at once (seconds, no model load); a keeper adds the vectors.
    An index an older notebot wrote is rewritten the same way (its vectors come from the cache)."""
    from ..store import needs_build
    from ..store.build import build_index

    if not needs_build(settings):
        return None
    return build_index(settings, warn=warn, max_new_embeddings=0)

