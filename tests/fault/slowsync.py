"""A slow disk for redis-server: an ``LD_PRELOAD`` shim that delays every ``fdatasync``.

Redis with ``appendfsync everysec`` fsyncs its append-only file in a background thread, once a
second. While that fsync is still running, ``flushAppendOnlyFile`` (src/aof.c) postpones
writing its buffer for up to two seconds, and the event loop answers clients meanwhile: on a
busy disk a SIGKILL of the Redis process then loses writes that Redis has acknowledged. This
shim makes every fsync of the server take ``SLOWSYNC_MS`` milliseconds, so the fault tests
can reproduce that on any disk. Redis on Linux calls ``fdatasync`` (``redis_fsync``).

Built with the system's C compiler into a cache folder; :func:`build` returns None when there
is no compiler (the test that needs it says so and skips).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

static int (*real_fdatasync)(int);
static int (*real_fsync)(int);

static void slow(void) {
    const char *ms = getenv("SLOWSYNC_MS");
    if (ms != NULL) usleep((useconds_t)atoi(ms) * 1000);
}

int fdatasync(int fd) {
    if (real_fdatasync == NULL) real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    slow();
    return real_fdatasync(fd);
}

int fsync(int fd) {
    if (real_fsync == NULL) real_fsync = dlsym(RTLD_NEXT, "fsync");
    slow();
    return real_fsync(fd);
}
"""


def build() -> Path | None:
    """The shim's shared object (built once per source version), None without a compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
    out = Path(tempfile.gettempdir()) / f"newsflow-slowsync-{digest}.so"
    if out.exists():
        return out
    src = out.with_suffix(".c")
    src.write_text(SOURCE)
    tmp = out.with_suffix(".so.tmp")
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(src), "-ldl"],
        check=True,
        capture_output=True,
    )
    tmp.replace(out)
    return out


def env(delay_ms: int) -> dict[str, str] | None:
    """redis-server's environment for fsyncs of ``delay_ms``; None without a compiler."""
    shim = build()
    if shim is None:
        return None
    return {"LD_PRELOAD": str(shim), "SLOWSYNC_MS": str(delay_ms)}
