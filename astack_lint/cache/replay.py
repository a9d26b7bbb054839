"""Replaying a whole run in which nothing changed, before anything heavy is imported.

``runs.py`` replays each project root's result, but such a run still imports the linter, reads
the options, walks the tree and resolves the releases. A run of the same command (the same
arguments, working directory, interpreter, ``sys.path``, environment variables that matter and
tool code) in which none of its inputs changed prints the same thing. So after a plain lint run
this module records what the run printed, its exit status, and the signature (kind, size, mtime,
ctime: ``touch -r`` and ``cp -p`` keep the mtime, not the ctime) of everything the run could have
read:

- every directory it walked (a new, removed or renamed entry changes a directory's mtime), and
  for every directory from the working directory and from each linted file up to the filesystem
  root that it did not walk (config files, project-root markers, lock and requirements files are
  looked for there), which entries exist that the linter may look for by name
  (``WATCHED_SUFFIXES``, ``.git``): those parents change for reasons of their own;
- every entry of all these directories that the linter may read by name;
- every other file the options or the release resolution read (the run's ``ReadLog``: a
  requirements file included with ``-r ../x.txt``, ``--config PATH``), and the interpreter's
  ``sys.path`` directories when the releases come from the installed distributions.

The next run of the same command stats all of them, and if every signature is the same, prints the
recorded output and exits with the recorded status, importing nothing but this module. A record is
written only after a plain lint run (no ``--fix``, ``--diff``, ``--output-file``,
``--show-settings``; caching on; the cache directory the command line and environment give, not
one from a config file), and not when something it depends on changed in the two seconds before
the run began or during it (a second change in the same mtime tick would go unseen). A record is plain data (``files.py``);
anything unreadable or of the wrong shape counts as no record.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, MutableMapping, Optional, Set, Tuple

from .. import __version__
from ..layout import ABOVE_NAMES, REQUIREMENTS_DIR, is_lock_file
from ..results import ReadLog
from ..source import write_text
from . import files
from .keys import PACKAGE_DIR, default_cache_dir, tool_key

FORMAT = 2
RACY_NS = 2_000_000_000  # a record is not written while an input changed less than this before the run began
_STARTED: List[int] = []  # when this process looked for a record (the run's start)
MAX_ENTRIES = 300_000  # more entries to watch than this: not worth a record
# the entries of a watched directory that the linter may read by name: Python files, config files
# (pyproject.toml, setup.cfg), lock files (uv.lock, pylock.toml, ...), requirements*.txt. A file read
# under another name is in the run's ReadLog. Directories are watched through their mtime.
WATCHED_SUFFIXES = (".py", ".toml", ".cfg", ".lock", ".txt")
_WATCHED_NAMES = frozenset({".git", REQUIREMENTS_DIR})  # a root marker; a directory of requirements files
# above the project roots the linter only looks for root markers, its config and a workspace's lock
# file: layout.ABOVE_NAMES
_ENV_PREFIXES = ("ASTACK_LINT_",)
_ENV_NAMES = ("VIRTUAL_ENV", "NO_COLOR", "FORCE_COLOR")

def cache_root(argv: List[str]) -> str:
    """The cache directory as the command line (``--cache-dir``) and the environment give it."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--cache-dir" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--cache-dir="):
            found = arg.split("=", 1)[1]
    return os.path.abspath(found or default_cache_dir())


def _stream_key(stream: Any) -> Tuple[Any, ...]:
    try:
        tty = bool(stream.isatty())
    except Exception:
        tty = None
    return (tty, getattr(stream, "encoding", None))


def record_path(argv: List[str]) -> str:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES)
    key = repr(
        (
            FORMAT,
            __version__,
            tool_key(),
            sys.executable,
            sys.version,
            list(sys.path),
            os.getcwd(),
            list(argv),
            env,
            _stream_key(sys.stdout),
            _stream_key(sys.stderr),
        )
    )
    name = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return os.path.join(cache_root(argv), "runs", f"{name}.snap")


Sig = Optional[Tuple[bool, int, int, int]]  # (is a directory, size, mtime_ns, ctime_ns); None: absent


def _sig(path: str) -> Sig:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return ((st.st_mode & 0o170000) == 0o040000, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# ---------------------------------------------------------------------------------------------
# replay


def replay(argv: List[str]) -> Optional[int]:
    """Print the recorded output of this command and return its status, if nothing changed."""
    _STARTED[:] = [time.time_ns()]
    try:
        path = record_path(argv)
        if files.usable(os.path.dirname(os.path.dirname(path)), os.path.dirname(path), create=False) is not None:
            return None
        data = files.read(path)
        if type(data) is not tuple or len(data) != 6 or data[:2] != ("replay", FORMAT):
            return None
        _, _, inputs, out, err, status = data
        if type(inputs) is not list or type(out) is not str or type(err) is not str or type(status) is not int:
            return None
        for kind, path, value in inputs:
            if kind == "env":
                if os.environ.get(path) != value:
                    return None
            elif (_sig(path) if kind == "sig" else _names(path)) != value:
                return None
    except Exception:  # no record, unreadable, of the wrong shape
        return None
    write_text(sys.stdout, out)
    write_text(sys.stderr, err)
    return status


# ---------------------------------------------------------------------------------------------
# recording


class _Environ(MutableMapping):  # type: ignore[type-arg]
    """``os.environ`` while a run is watched: every variable read is noted with its value (absent:
    None); a run that lists the environment depends on all of it."""

    def __init__(self, real: Any, seen: Dict[str, Optional[str]]) -> None:
        self.real = real
        self.seen = seen

    paused = False

    def _note(self, name: Any) -> None:
        if not self.paused and isinstance(name, str) and name not in self.seen:
            self.seen[name] = self.real.get(name)

    def __getitem__(self, name: Any) -> Any:
        self._note(name)
        return self.real[name]

    def get(self, name: Any, default: Any = None) -> Any:
        self._note(name)
        return self.real.get(name, default)

    def __contains__(self, name: Any) -> bool:
        self._note(name)
        return name in self.real

    def __setitem__(self, name: Any, value: Any) -> None:
        self._note(name)
        self.real[name] = value

    def __delitem__(self, name: Any) -> None:
        self._note(name)
        del self.real[name]

    def __iter__(self) -> Iterator[str]:
        for name in self.real:
            self._note(name)
        return iter(self.real)

    def __len__(self) -> int:
        for name in self.real:
            self._note(name)
        return len(self.real)

    def copy(self) -> Dict[str, str]:
        return dict(self)

    def __getattr__(self, name: str) -> Any:  # encodekey, putenv and the like
        return getattr(self.real, name)


class Watch:
    """What a run read that no ReadLog entry names: the environment variables it looked at, and
    the files it opened for reading (an audit hook; not the interpreter's own imports, the tool's
    modules or the cache, which the record's key covers). Derived from the reads themselves, so
    a new kind of input cannot go unwatched."""

    _active: Optional["Watch"] = None
    _hooked = False

    def __init__(self) -> None:
        self.env: Dict[str, Optional[str]] = {}
        self.opened: Set[str] = set()
        self._skip = (PACKAGE_DIR + os.sep,)

    def __enter__(self) -> "Watch":
        self._real = os.environ
        os.environ = _Environ(self._real, self.env)  # type: ignore[assignment]
        if not Watch._hooked and hasattr(sys, "addaudithook"):
            sys.addaudithook(_audit)
            Watch._hooked = True
        Watch._active = self
        return self

    def __exit__(self, *exc: Any) -> None:
        Watch._active = None
        os.environ = self._real  # type: ignore[assignment]

    @staticmethod
    @contextmanager
    def unwatched() -> Iterator[None]:
        """Reads that cannot change a recorded run's output: argparse sizes its help text to the
        terminal (COLUMNS, LINES) whenever it is built, and help is never recorded."""
        env = os.environ
        if not isinstance(env, _Environ):
            yield
            return
        env.paused = True
        try:
            yield
        finally:
            env.paused = False

    def skip(self, directory: str) -> None:
        self._skip += (os.path.join(os.path.abspath(directory), ""),)

    def files(self) -> List[str]:
        return sorted(p for p in self.opened if not p.startswith(self._skip))


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND


def _audit(event: str, args: Tuple[Any, ...]) -> None:
    watch = Watch._active
    if watch is None or event != "open":
        return
    try:
        path, mode, flags = args
        if not isinstance(path, (str, bytes)):
            return  # a file descriptor
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            return
        caller = sys._getframe(1).f_code.co_filename
        if caller.startswith("<frozen importlib"):
            return  # the interpreter importing a module (the key holds sys.path and the tool's code)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if "__pycache__" in path:
            return
        watch.opened.add(os.path.abspath(path))
    except Exception:
        pass

class Tee:
    """A text stream that keeps a copy of what was written to it (the entry point records what a
    run printed through two of these)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.parts: List[str] = []

    def write(self, text: str) -> int:
        n = self.stream.write(text)
        self.parts.append(text)
        return n  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _ancestors(path: str) -> Iterable[str]:
    d = path
    while True:
        yield d
        parent = os.path.dirname(d)
        if parent == d:
            return
        d = parent


def _watched(name: str) -> bool:
    return name.endswith(WATCHED_SUFFIXES) or name in _WATCHED_NAMES


def _above(name: str) -> bool:
    return name in ABOVE_NAMES or is_lock_file(name)


def _names(directory: str) -> Optional[Tuple[str, ...]]:
    """The entries of a directory above the project that the linter may look for (None: cannot list it)."""
    try:
        with os.scandir(directory) as it:
            return tuple(sorted(e.name for e in it if _above(e.name)))
    except OSError:
        return None


Input = Tuple[str, str, Any]  # ("sig", path, Sig), ("names", directory, names) or ("env", name, value)


def _inputs(paths: List[str], reads: ReadLog, opened: Iterable[str] = ()) -> Optional[List[Input]]:
    walked = set(reads.dirs)
    unwalked: Set[str] = set()
    for start in list(walked) + [os.getcwd()] + [p if os.path.isdir(p) else os.path.dirname(p) for p in paths]:
        for d in _ancestors(start):
            if d in unwalked:
                break
            if d not in walked:
                unwalked.add(d)
    sigs: Dict[str, Sig] = {}
    listed: Dict[str, Optional[Tuple[str, ...]]] = {}
    for d in walked:
        sigs[d] = _sig(d)  # an entry added, removed or renamed changes the directory's mtime
    for d in unwalked:
        inside = any(a in walked for a in _ancestors(os.path.dirname(d)))  # an excluded directory
        if inside:
            sigs[d] = _sig(d)
        else:
            # above the project: the working directory's parents change for reasons of their own;
            # what is watched there is which of the names the linter looks for exist
            listed[d] = _names(d)
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if (_watched(entry.name) if inside else _above(entry.name)) and not entry.is_dir():
                        sigs[entry.path] = _sig(entry.path)
        except OSError:
            continue
    for d in walked:
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if _watched(entry.name) and not entry.is_dir():
                        sigs[entry.path] = _sig(entry.path)
                    if len(sigs) > MAX_ENTRIES:
                        return None
        except OSError:
            continue
    for p in list(reads.files) + paths + list(opened):
        sigs[p] = _sig(p)
    out: List[Input] = [("names", d, names) for d, names in sorted(listed.items())]
    out += [("sig", p, sig) for p, sig in sorted(sigs.items())]
    return out


def record(argv: List[str], out: str, err: str, status: int, reads: ReadLog, cache_dir: str, paths: List[str],
           watch: Optional[Watch] = None) -> None:
    """Record what a plain lint run of this command printed, with what it read, so that the same
    command replays it while nothing changes (``cache_dir``: where the run's cache was, as the
    command line and the environment give it; ``paths``: what it linted)."""
    path = record_path(argv)
    if os.path.dirname(os.path.dirname(path)) != os.path.abspath(cache_dir):
        return  # the options chose another cache directory: the next run would not look there
    extra: List[str] = []
    if watch is not None:
        watch.skip(cache_dir)
        extra = watch.files()
    inputs = _inputs([os.path.abspath(p) for p in paths], reads, extra)
    if inputs is None:
        return
    if watch is not None:
        inputs += [("env", name, value) for name, value in sorted(watch.env.items())]
    young = (_STARTED[0] if _STARTED else time.time_ns()) - RACY_NS  # an input changed during the run is young too
    if any(kind == "sig" and sig is not None and sig[2] >= young for kind, _, sig in inputs):
        return
    try:
        if files.usable(os.path.dirname(os.path.dirname(path)), os.path.dirname(path)) is not None:
            return  # the facts cache warns about an unusable directory
        files.write(path, ("replay", FORMAT, inputs, out, err, int(status)))
        files.prune(os.path.dirname(os.path.dirname(path)))
    except Exception:  # the facts cache warns about an unwritable directory; this stays quiet
        pass
