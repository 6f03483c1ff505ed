"""Files: checked input paths, UTF-8 text read line by line, atomic outputs, and outputs that spare inputs.

Before a command writes anything it checks its outputs with :func:`check_outputs`: an output that is one of its
inputs (the same file, a symbolic or hard link to it) or a folder that holds one is refused with one line naming
both, and an output that cannot be written is reported by the path the user gave, before any long work.

Every file LeanProgress writes (records, models' side files, plots, search
results) goes through :func:`atomic_output` or :func:`atomic_path`: it is
written under a temporary name beside the target and renamed over it once
complete, so Ctrl-C or an error never leaves half a file, and it gets the mode
a plain ``open()`` would give (or the replaced file's mode). Inputs are read
as bytes, line by line, so that one line that is not UTF-8 is reported with
its number instead of stopping the read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import IO, Iterable, Iterator

BOM = "\ufeff"


def check_input_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a Path if it is a readable file; a clear OSError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected a {what}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def check_output_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path if a file can be written there; a clear OSError naming ``path`` otherwise.

    The nearest folder of ``path`` that exists is tried with a temporary file (removed at once), so that a
    read-only place (``/proc``, a read-only mount, a folder without write permission) is found before any work,
    and is reported by the path given rather than by a temporary file's name.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name to write to")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a folder")
            _probe(parent, path)
            break
    return path


def check_output_folder(path: str | os.PathLike, what: str = "--output-dir") -> Path:
    """``path`` as a Path if a folder can be written there (it may not exist yet); a clear OSError otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file, not a folder")
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(f"cannot write {path}: {folder} is a file, not a folder")
            _probe(folder, path)
            break
    return path


def _probe(folder: Path, path: Path) -> None:
    """Create and remove a temporary file in ``folder``; an OSError naming ``path`` if that fails."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".leanprogress-probe.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _about(exc, path) from None
    os.close(fd)
    os.unlink(tmp)


def _about(exc: OSError, path: Path) -> OSError:
    """``exc`` (raised on a temporary file or folder of ``path``) as the same error about ``path`` itself."""
    return type(exc)(exc.errno, f"cannot write a file there ({exc.strerror or exc})", str(path))


class OutputIsInputError(ValueError):
    """An output path that is one of the command's inputs, or a folder that holds one (see :func:`check_outputs`)."""


def check_outputs(inputs: Iterable[tuple[str, str | os.PathLike | None]],
                  files: Iterable[tuple[str, str | os.PathLike | None]] = (),
                  folders: Iterable[tuple[str, str | os.PathLike | None]] = ()) -> None:
    """The one rule every command that writes applies before it writes: no output may be one of its inputs.

    An output file is refused when it is an input (the same file: the same path, a symbolic link to it or a hard
    link, as ``os.path.samefile`` sees them); an output folder is refused when it holds an input anywhere below
    it, or is one. Each output is also checked to be writable (:func:`check_output_file`,
    :func:`check_output_folder`). Call it before any long work.

    Args:
        inputs: ``(what, path)`` for each input the command reads: ``what`` names it as the user gave it (a flag
            such as ``--dataset``, or ``TRACE``). Give the files read from an input folder where the command
            reads them all (a folder of traces). ``None`` paths are skipped.
        files: ``(what, path)`` for each output file.
        folders: ``(what, path)`` for each output folder.

    Raises:
        OutputIsInputError: one line naming the output and the input.
        OSError: an output that cannot be written, naming the output.

    Example:
        >>> check_outputs([("--dataset", "d.jsonl")], files=[("--output", "d.jsonl")])  # doctest: +SKIP
        Traceback (most recent call last):
        OutputIsInputError: --output d.jsonl is the input --dataset d.jsonl: write to another path (nothing was written)
    """
    inputs = [(what, Path(p)) for what, p in inputs if p is not None and str(p)]
    for what_out, out in files:
        if out is None:
            continue
        out = check_output_file(out)
        for what_in, inp in inputs:
            if _same_file(out, inp):
                how = "" if os.path.abspath(out) == os.path.abspath(inp) else " (the same file)"
                raise OutputIsInputError(f"{what_out} {out} is the input {what_in} {inp}{how}: write to another path "
                                         "(nothing was written)")
    for what_out, out in folders:
        if out is None:
            continue
        out = check_output_folder(out, what_out)
        for what_in, inp in inputs:
            if _inside(inp, out):
                raise OutputIsInputError(f"{what_out} {out} holds the input {what_in} {inp}: write to a folder that "
                                         "holds no input (nothing was written)")


def files_of(what: str, path: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(what, file)`` for ``path`` itself, or for every file below it if it is a folder: the inputs of a command
    that reads a whole folder (a folder of traces, a Lean project), for :func:`check_outputs`."""
    path = Path(path)
    if path.is_dir():
        return [(what, p) for p in sorted(path.rglob("*")) if p.is_file()]
    return [(what, path)]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (links resolved)."""
    try:
        path, folder = path.resolve(), folder.resolve()
    except OSError:
        return False
    return path == folder or folder in path.parents


def iter_text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str | None, str | None]]:
    """``(line number, text, None)`` for each line of a UTF-8 file, or ``(line number, None, reason)``
    for a line that is not valid UTF-8, so that callers can report or skip it.

    A byte-order mark at the start of the file is dropped. Lines are read as
    bytes, so one bad line never hides the lines after it.
    """
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, None, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                continue
            if lineno == 1 and text.startswith(BOM):
                text = text[1:]
            yield lineno, text, None


def read_text(path: str | os.PathLike) -> str:
    """A whole UTF-8 text file (a byte-order mark is dropped).

    Raises:
        UnicodeDecodeError: with the line of the first bad byte in its reason.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnicodeDecodeError(exc.encoding, exc.object, exc.start, exc.end,
                                 f"not valid UTF-8 at line {line} (byte 0x{data[exc.start]:02x})") from None
    return text[1:] if text.startswith(BOM) else text


def json_error(exc: ValueError, one_line: bool = False) -> str:
    """A ``json.JSONDecodeError`` as ``not valid JSON (reason at line L, column C)``, keeping where it is
    (``at column C`` for one line of a JSONL file, whose line the caller names)."""
    msg, line, col = getattr(exc, "msg", str(exc)), getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if col is None:
        return f"not valid JSON ({msg})"
    return f"not valid JSON ({msg} at column {col})" if one_line else f"not valid JSON ({msg} at line {line}, column {col})"


_UMASK_LOCK = threading.Lock()


def new_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: 0o666 less the umask."""
    with _UMASK_LOCK:  # reading the umask means setting it; keep other threads out meanwhile
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _mode_for(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` would leave: the existing file's, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return new_file_mode()


def settle_modes(folder: str | os.PathLike) -> None:
    """Give every file written into a new ``folder`` (not below it) the mode ``open()`` gives a new file.

    For folders that other writers fill: the safetensors writer (``save_pretrained``, the HF Trainer's
    checkpoints) leaves its weights 0600, so that another account could not load a shared model.
    """
    mode = new_file_mode()
    for item in Path(folder).iterdir():
        if item.is_file() and not item.is_symlink():
            os.chmod(item, mode)


def publish(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename the finished file ``src`` over ``dst``, with the mode ``open(dst, "w")`` would leave
    (``dst``'s own mode if it exists, else the usual mode of a new file)."""
    src, dst = Path(src), Path(dst)
    if src.is_file() and not src.is_symlink():
        os.chmod(src, _mode_for(dst))
    os.replace(src, dst)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to, renamed over ``path`` once the block ends without error.

    For writers that want a file name (e.g. matplotlib's ``savefig``); :func:`atomic_output` opens it for you.
    The file gets the old file's mode, or the mode ``open()`` would give a new file; an interrupted or failed
    write (Ctrl-C included) leaves the old file as it was.
    """
    path = check_output_file(path)
    try:  # errors on the folders or the temporary file name the file the caller asked for
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _about(exc, path) from None
    try:
        os.fchmod(fd, _mode_for(path))
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (tmp, Path(tmp)):
            raise _about(exc, path) from None
        raise


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """A text file opened for writing that appears at ``path`` only once complete.

    Written to a temporary file beside ``path`` and renamed over it at the
    end, so a reader never sees half a file and an interrupted or failed
    write (Ctrl-C included) leaves the old file as it was. The new file gets
    the old file's mode, or the mode ``open()`` would give a new file.

    Example:
        >>> with atomic_output("out.jsonl") as f:  # doctest: +SKIP
        ...     f.write("{}\\n")
    """
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding) as f:
        yield f
