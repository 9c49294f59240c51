"""The file protocol's I/O: atomic writes, consume-on-read, and waiting for a file
(inotify where there is one, polling otherwise)."""
from __future__ import annotations

import os
import select
import sys
import threading
import time

from wwm.protocol.errors import ProtocolError

MESSAGE_FILES = ("state", "action")


def write_atomic(path: str, data: bytes | str) -> None:
    """Write ``path`` so that a reader never sees half of it (tmp + rename).

    An existing ``path`` is unlinked first: on ext4 a rename over an existing
    file forces its data out to disk (auto_da_alloc), three times the cost.
    A reader may briefly find no file, never half of one.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
    except BaseException:
        os.close(fd)
        unlink_quiet(tmp)  # a full disk leaves no half file behind
        raise
    os.close(fd)
    unlink_quiet(path)
    os.rename(tmp, path)


def consume(path: str, limit: int) -> bytes | None:
    """Read and delete a message file; ``None`` when there is none.

    Raises ProtocolError when the file is larger than ``limit`` bytes (it is
    deleted all the same, so a flood cannot wedge the run).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, limit + 1)
        while len(data) <= limit:
            more = os.read(fd, limit + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
        unlink_quiet(path)
    if len(data) > limit:
        raise ProtocolError(f"{os.path.basename(path)} is larger than {limit} bytes")
    return data


def read_small(path: str, limit: int = 65536) -> str | None:
    """Read a file that is replaced, not consumed (``score``, ``done``)."""
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def read_json(path: str) -> dict:
    """A small JSON file of ours; ``{}`` when missing or torn."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Inotify:
    """A thin inotify binding (ctypes, Linux): one instance, many watches.

    Far cheaper than a general file-watching library: one fd, raw events.
    An instance is meant to live long: closing one waits for the kernel's
    RCU grace period (milliseconds on a busy machine), so each thread keeps
    one (``thread_inotify``) and adds and removes watches on it.
    """

    IN_MOVED_TO = 0x080
    IN_CREATE = 0x100
    _libc = None

    def __init__(self):
        import ctypes  # deferred: costs milliseconds at start-up

        if Inotify._libc is None:
            Inotify._libc = ctypes.CDLL(None, use_errno=True)
        self._errno = ctypes.get_errno
        self.watches: dict[int, list] = {}  # wd -> the Watch objects on it
        self.fd = Inotify._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(self._errno(), "inotify_init1 failed")

    def fileno(self) -> int:
        return self.fd

    def add(self, directory: str, mask: int) -> int:
        wd = Inotify._libc.inotify_add_watch(self.fd, os.fsencode(directory), mask)
        if wd < 0:
            raise OSError(self._errno(), f"inotify_add_watch failed on {directory}")
        return wd

    def pump(self) -> None:
        """Read pending events; give each Watch the names renamed into its folder."""
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            i = 0
            while i + 16 <= len(buf):
                wd = int.from_bytes(buf[i:i + 4], "little", signed=True)
                size = int.from_bytes(buf[i + 12:i + 16], "little")
                name = buf[i + 16:i + 16 + size].rstrip(b"\0").decode("utf-8", "replace")
                for w in self.watches.get(wd, ()):
                    w.renamed.add(name)
                i += 16 + size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Watch:
    """One folder watched on an Inotify instance, until ``close()``.

    ``renamed`` collects the names renamed (or, with IN_CREATE, created)
    into the folder since the watch began.  By default only renames are
    watched: every message arrives that way, and writing ``NAME.tmp`` then
    wakes nobody.
    """

    def __init__(self, inotify: Inotify, directory: str, mask: int = Inotify.IN_MOVED_TO):
        self.inotify = inotify
        self.wd = inotify.add(directory, mask)
        self.renamed: set[str] = set()
        inotify.pump()  # events from before this watch belong to nobody
        inotify.watches.setdefault(self.wd, []).append(self)

    def fileno(self) -> int:
        return self.inotify.fd

    def close(self) -> None:
        users = self.inotify.watches.get(self.wd, [])
        if self in users:
            users.remove(self)
            if not users:
                del self.inotify.watches[self.wd]
                Inotify._libc.inotify_rm_watch(self.inotify.fd, self.wd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_thread = threading.local()


def new_inotify() -> Inotify | None:
    """A new inotify instance, or None where there is none (or WWM_POLL=1 asks to poll)."""
    if os.environ.get("WWM_POLL") or not sys.platform.startswith("linux"):
        return None
    try:
        return Inotify()
    except (OSError, AttributeError):
        return None  # e.g. fs.inotify.max_user_instances reached: poll instead


def open_watch(directory: str, mask: int = Inotify.IN_MOVED_TO) -> Watch | None:
    """Watch ``directory`` on this thread's long-lived instance; None means poll."""
    inotify = getattr(_thread, "inotify", None)
    if inotify is None:
        inotify = _thread.inotify = new_inotify() or False
    if not inotify:
        return None
    try:
        return Watch(inotify, directory, mask)
    except OSError:
        return None


def wait_for(directory: str, names: tuple[str, ...], timeout: float, check=None,
             watch: Watch | None = None, strict: bool = False) -> str | None:
    """Wait until one of ``names`` exists in ``directory``; return it.

    Uses inotify where it can (``watch``, opened on ``directory`` before the
    message being answered was sent, or a new one) and polling otherwise.
    ``check()`` is called about every 50 ms and may raise (when Program 1 has
    died, say).  ``strict``: the watch was opened before the message being
    answered was sent, so an answer that appears without being renamed into
    place was written in place, a non-atomic write: ProtocolError.  Returns
    None when ``timeout`` runs out.
    """
    deadline = time.monotonic() + timeout
    own = watch is None
    if own:
        watch = open_watch(directory)
    try:
        next_check = time.monotonic() + 0.05
        delay = 0.0002
        while True:
            for name in names:
                if os.path.exists(os.path.join(directory, name)):
                    if strict and watch is not None and name in MESSAGE_FILES:
                        watch.inotify.pump()
                        if name not in watch.renamed:
                            # rename() makes the name visible a moment before it queues
                            # the event: give the event that moment before judging.
                            select.select([watch], [], [], 0.05)
                            watch.inotify.pump()
                        if name not in watch.renamed:
                            raise ProtocolError(
                                f"Program 1 wrote {name!r} in place; write {name}.tmp and rename it")
                    return name
            now = time.monotonic()
            if now >= next_check:
                if check:
                    check()
                next_check = now + 0.05
            if now >= deadline:
                return None
            pause = min(deadline - now, next_check - now)
            if watch is None:
                time.sleep(min(pause, delay))
                delay = min(delay * 2, 0.005)
            elif select.select([watch], [], [], max(pause, 0))[0]:
                watch.inotify.pump()
    finally:
        if own and watch is not None:
            watch.close()


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------
