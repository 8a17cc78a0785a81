"""Run the jobs of a comparison as child processes, ``slots`` at a time.

A job is a generator: it yields a :class:`Command` (argv, log file, extra
environment), receives ``(returncode, wall_s)`` when the process ended and
yields the next command or returns a one-line summary. The generators run
in the main thread; only the children run in parallel.

- Each child starts in its own session (its own process group, so
  Ctrl-C on the terminal reaches the tool only, and the tool ends the
  child's whole group) and, on Linux, with ``PR_SET_PDEATHSIG``: a child
  gets SIGTERM when the tool dies, even from SIGKILL, so no training goes
  on writing into a run dir that the rerun then finds locked.
- Slot ``i`` (``0..slots-1``) gets ``env_for_slot(i)`` (threads, device).
- Ctrl-C (KeyboardInterrupt) or any error: every running child's group
  gets SIGTERM, then SIGKILL after ``kill_timeout`` s; the exception goes
  on up.
- :attr:`Pool.busy_s`: wall time during which at least one child ran (the
  tool's own overhead is the rest); :attr:`Pool.started`: ``{job name:
  [kind of each command started]}``.
"""
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

#: Run as ``python -c LAUNCH PARENT_PID ARGV...``: ask the kernel for a
#: SIGTERM when the parent dies, then exec ARGV (the same process).
LAUNCH = '''
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
'''


@dataclass
class Command:
    """One child process: ``argv`` (argv[0] the executable), its stdout
    and stderr appended to ``log``; ``kind`` names it in
    :attr:`Pool.started` (e.g. ``'train'``)."""
    argv: list
    log: str
    kind: str = 'command'
    env: dict = field(default_factory=dict)


def _fmt(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds}s'
    if seconds < 3600:
        return f'{seconds // 60}m{seconds % 60:02d}s'
    return f'{seconds // 3600}h{seconds // 60 % 60:02d}m'


class Pool:
    """See the module doc."""

    def __init__(self, slots, env_for_slot=lambda slot: {}, cwd=None,
                 log=print, poll_s=0.2, kill_timeout=10.0):
        if slots < 1:
            raise ValueError(f'--jobs must be >= 1, got {slots}')
        self.slots, self.env_for_slot, self.cwd = slots, env_for_slot, cwd
        self.log, self.poll_s, self.kill_timeout = log, poll_s, kill_timeout
        self.busy_s = 0.0
        self.children_wall_s = 0.0
        self.started = {}
        self._running = {}  # slot -> [job name, generator, Popen, t0, job t0]

    def run(self, jobs):
        """Run ``jobs`` (a list of ``(name, generator)``); returns
        ``{name: summary}``."""
        queue, summaries, total = list(jobs), {}, len(jobs)
        self.start = time.time()
        durations = []
        last = time.time()
        try:
            while queue or self._running:
                for slot in range(self.slots):
                    while slot not in self._running and queue:
                        name, job = queue.pop(0)
                        started = self._advance(slot, name, job, None,
                                                time.time(), summaries)
                        what = f'started {name}' if started else \
                            summaries[name]
                        self.log(self._line(what, len(summaries), total,
                                            durations, queue))
                time.sleep(self.poll_s if self._running else 0)
                now = time.time()
                if self._running:
                    self.busy_s += now - last
                last = now
                for slot in list(self._running):
                    name, job, proc, t0, job_t0 = self._running[slot]
                    returncode = proc.poll()
                    if returncode is None:
                        continue
                    wall = now - t0
                    self.children_wall_s += wall
                    del self._running[slot]
                    if not self._advance(slot, name, job, (returncode, wall),
                                         job_t0, summaries):
                        durations.append(now - job_t0)
                        self.log(self._line(
                            f'{summaries[name]} ({_fmt(now - job_t0)})',
                            len(summaries), total, durations, queue))
        except BaseException:
            self.terminate_all()
            raise
        return summaries

    def _advance(self, slot, name, job, result, job_t0, summaries):
        """Send ``result`` to ``job``; start its next command in ``slot``.
        Returns True while the job runs, False once it returned."""
        try:
            command = job.send(result)
        except StopIteration as stop:
            summaries[name] = stop.value or f'done {name}'
            return False
        env = dict(os.environ, **self.env_for_slot(slot), **command.env)
        with open(command.log, 'ab') as log:
            log.write(f'\n### compare: {" ".join(command.argv)}\n'.encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, '-c', LAUNCH, str(os.getpid()),
                 *command.argv],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=self.cwd, start_new_session=True)
        self._running[slot] = [name, job, proc, time.time(), job_t0]
        self.started.setdefault(name, []).append(command.kind)
        return True

    def _line(self, what, done, total, durations, queue):
        elapsed = time.time() - self.start
        if durations:
            mean = sum(durations) / len(durations)
            ran = sum(time.time() - r[4] for r in self._running.values())
            left = max(0.0, (mean * (len(queue) + len(self._running)) - ran)
                       / self.slots)
            eta = f'ETA {_fmt(left)}'
        else:
            eta = 'ETA after the first run'
        return (f'[compare {done}/{total} done, {len(self._running)} running,'
                f' {_fmt(elapsed)} elapsed, {eta}] {what}')

    def terminate_all(self):
        """SIGTERM to every running child's process group, SIGKILL to
        those still alive after ``kill_timeout`` s."""
        procs = [r[2] for r in self._running.values()]
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.time() + self.kill_timeout
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for name, job, *_ in self._running.values():
            job.close()
        self._running.clear()


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
