"""SIGINT and SIGTERM as requests to stop, for every entry point and every backend.

>>> with stop_requests() as stops:      # w2v-train enters this before it reads anything
...     prepare()                       # a signal here stops at once: Interrupted
...     with stops.deferred():          # the driver's training loop
...         train_spans()               # a signal here is noted; the driver finishes the span,
...                                     # checkpoints and raises Interrupted itself

The handlers are installed once, by the outermost `stop_requests()` of the main thread
(an inner one, such as the driver's inside w2v-train's, reuses it), and the previous
handlers come back when it ends. Outside `deferred()`, and at a second signal inside it,
the handler raises `Interrupted` where the program is: every file being written goes
through w2v.io.files.atomic_write, which removes its temporary file on the way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PAUSE_SECONDS = 60.0  # W2V_TEST_PAUSE_AT: the longest a paused run waits for its signal


class Interrupted(Exception):
    """Training stopped on a signal; exit with `exit_status` (130 SIGINT, 143 SIGTERM).

    checkpoint: the checkpoint written on the way out (None: there is none to resume);
    words: corpus words trained when it stopped; at_once: a second signal stopped the run
    without waiting for the span in flight."""

    def __init__(self, signum: int, checkpoint=None, words: int = 0, at_once: bool = False,
                 stage: str | None = None):
        self.signum, self.checkpoint, self.words, self.at_once = signum, checkpoint, words, at_once
        name = signal.Signals(signum).name
        if at_once:
            what = f"stopped at once by a second {name}; no checkpoint written"
        elif stage is not None:
            what = f"stopped by {name} {stage}"
        elif checkpoint is not None:
            what = (f"stopped by {name} after {words:,} words; checkpoint written to "
                    f"{checkpoint}: resume with `w2v-train --resume {checkpoint}`")
        else:
            what = (f"stopped by {name} after {words:,} words; nothing written (with "
                    f"--checkpoint PATH a stopped run can be resumed)")
        super().__init__(what)

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # as shells report a process ended by the signal


class StopRequests:
    """What the handlers saw: `signum` is the first stop asked for while deferred, else
    None. `stage` says, in the message of a stop outside `deferred()`, where the program was
    and what it left (the caller sets it as it goes: starting, writing the vectors, ...)."""

    def __init__(self):
        self.signum: int | None = None
        self.stage = "before training began; nothing written"
        self._deferring = 0

    def handle(self, signum, frame) -> None:
        if self._deferring and self.signum is None:
            self.signum = signum  # the driver stops after the span in flight
            return
        if self.signum is not None:
            raise Interrupted(signum, at_once=True)
        raise Interrupted(signum, stage=self.stage)

    @contextlib.contextmanager
    def deferred(self):
        """Within this block a first signal is only noted (`signum`): the caller stops
        where it can save its state."""
        self._deferring += 1
        try:
            yield self
        finally:
            self._deferring -= 1


_active: StopRequests | None = None


@contextlib.contextmanager
def stop_requests():
    """The process's StopRequests, its handlers installed for the block (main thread only:
    elsewhere nothing is installed and signals keep their default behaviour). Inside an
    outer block it reuses the outer one, and installs its handlers again: a library started
    in between may have replaced them (TensorFlow's cluster and Ray's init install their
    own SIGTERM handlers)."""
    global _active
    if _active is not None or threading.current_thread() is not threading.main_thread():
        reclaim_signals()
        yield _active or StopRequests()
        return
    requests = StopRequests()
    previous = {signum: signal.signal(signum, requests.handle) for signum in STOP_SIGNALS}
    _active = requests
    try:
        yield requests
    finally:
        _active = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def reclaim_signals() -> None:
    """Put the active handlers back where a library replaced them (ray.init installs its
    own SIGTERM handler, which exits at once, in the process that calls it)."""
    if _active is not None and threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, _active.handle)


def stop_point(point: str, stops: StopRequests | None = None) -> None:
    """A place where the tests stop runs, rather than after a timer that races the work.

    Never active in normal use: W2V_TEST_SIGTERM_AT=<point> makes the process send itself
    SIGTERM at `point`; W2V_TEST_PAUSE_AT=<point> makes it print "w2v: paused at <point>"
    on stderr there and wait, up to a minute, for a signal (the test sends it). Points:
    "start" (the handlers are installed, nothing is read yet) and "span N" (the process has
    trained N spans; the driver then handles the stop as any other)."""
    if os.environ.get("W2V_TEST_SIGTERM_AT") == point:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the next line
    if os.environ.get("W2V_TEST_PAUSE_AT") == point:
        print(f"w2v: paused at {point}", file=sys.stderr, flush=True)
        deadline = time.monotonic() + PAUSE_SECONDS
        while (stops is None or stops.signum is None) and time.monotonic() < deadline:
            time.sleep(0.01)  # a signal ends the sleep: the handler raises or notes it
