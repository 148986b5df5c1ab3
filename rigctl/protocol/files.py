"""Safe file access for everything rigctl reads and writes (no Qt, no models).

:func:`read_limited` reads a regular file of bounded size and refuses anything else (a
folder, a FIFO, a device, a file that grows) before reading it; :func:`write_atomic` is
the one atomic writer of rigctl (temporary file, fsync, rename, folder fsync), with
:func:`replace_retrying` for files another program briefly holds open on Windows.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "REPLACE_RETRY_S",
    "FileRefusedError",
    "read_limited",
    "replace_retrying",
    "too_large",
    "write_atomic",
]


class FileRefusedError(ValueError):
    """A path that is not read: not a regular file, too large, or unreadable."""


def too_large(size: int, max_bytes: int, what: str) -> str:
    """Why a file of ``size`` bytes is refused: "is 2.0 MiB, larger than the 1024 KiB ..."."""
    shown = f"{size / 1_048_576:.1f} MiB" if size >= 1_048_576 else f"{size / 1024:.0f} KiB"
    return f"is {shown}, larger than the {max_bytes // 1024} KiB a {what} may be"


def read_limited(path: str | os.PathLike[str], max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else before reading it.

    The path is checked with ``os.stat`` before it is opened (opening a FIFO for reading
    would block), opened non-blocking, checked again on the open descriptor, and read up
    to ``max_bytes + 1`` bytes, so a file that grows or lies about its size is still
    refused without reading more than the cap.

    Raises
    ------
    FileRefusedError
        One sentence (without the file name) saying why the file is not read.
    """
    try:
        st = os.stat(path)
        _regular(st.st_mode, what)
        if st.st_size > max_bytes:
            raise FileRefusedError(too_large(st.st_size, max_bytes, what))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise FileRefusedError("does not exist") from None
    except PermissionError:
        raise FileRefusedError("cannot be read (permission denied)") from None
    except OSError as exc:
        raise FileRefusedError(f"cannot be read ({exc.strerror or exc})") from None
    try:
        _regular(os.fstat(fd).st_mode, what)
        chunks: list[bytes] = []
        got = 0
        while got <= max_bytes:
            chunk = os.read(fd, min(65_536, max_bytes + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as exc:
        raise FileRefusedError(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if got > max_bytes:
        raise FileRefusedError(f"is larger than the {max_bytes // 1024} KiB a {what} may be")
    return b"".join(chunks)


def _regular(mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise FileRefusedError(f"is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise FileRefusedError(f"is {kind}, not a {what}; give the path of a regular file")


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes | Callable[[Path], object]) -> Path:
    """Write ``path`` so that a crash leaves either the old file or the new one.

    The content goes to a temporary file in the same folder, is flushed to disk, and the
    file is renamed over ``path``; the folder entry is flushed too. The file gets the
    permissions a plain ``open(path, "w")`` would give it (``0o666`` minus the umask), so
    files shared with the lab stay readable. This is the one atomic writer of rigctl.

    Parameters
    ----------
    path
        The file to write.
    data
        The bytes, or a function that writes the content to the temporary path it is
        given (for writers that need a file name, such as HDF5).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        The file cannot be written; the temporary file is removed and ``path`` is
        untouched.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with contextlib.suppress(AttributeError, OSError):  # Windows has no modes
            os.fchmod(fd, 0o666 & ~_umask())
        fh = os.fdopen(fd, "r+b")
        fd = -1  # the file object owns it now
        with fh:
            if callable(data):
                data(Path(tmp))
            else:
                fh.write(data)
                fh.flush()
            os.fsync(fh.fileno())
        replace_retrying(tmp, target)
    except BaseException:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target


REPLACE_RETRY_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
"""Pauses between attempts to replace a file that another program holds open (Windows)."""


def replace_retrying(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace(src, dst)``, retried for about a second while it raises PermissionError.

    On Windows, replacing a file fails while another program (a virus scanner, a backup
    tool, an editor) has it open; such holds are brief. The last error is raised.
    """
    import time  # only needed on this path

    for pause in (*REPLACE_RETRY_S, None):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if pause is None:
                raise
            time.sleep(pause)
