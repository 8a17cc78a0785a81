"""Run a command as the packaging tests do: one thread, output merged,
an assertion with the output's tail when it fails."""
import os
import subprocess


def run(cmd, cwd, timeout=300):
    """Run ``cmd`` (items made str) in ``cwd``; return its output."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout
