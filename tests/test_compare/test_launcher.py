"""nd_mmdet.compare.launcher: jobs as generators of child processes, N at
once, each slot's environment, and no child outliving an interrupted or
killed tool. The children are tiny Python scripts (no torch)."""
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from nd_mmdet.compare.launcher import Command, Pool
from tests.tools_runner import REPO

# writes "<slot env> <start> <end>" to argv[1], sleeps argv[2] s, exits
# with argv[3]
CHILD = textwrap.dedent('''
    import os, sys, time
    start = time.time()
    time.sleep(float(sys.argv[2]))
    with open(sys.argv[1], 'w') as f:
        f.write(f"{os.environ['SLOT_ENV']} {start} {time.time()}")
    sys.exit(int(sys.argv[3]))
''')


def _job(tmp_path, name, codes, seen):
    """Two commands; the second exit code is what the job saw first."""
    results = []
    for k, code in enumerate(codes):
        out = str(tmp_path / f'{name}-{k}')
        result = yield Command([sys.executable, '-c', CHILD, out, '0.4',
                                str(code)], str(tmp_path / f'{name}.log'),
                               kind=f'step{k}')
        results.append(result[0])
        seen.setdefault(name, []).append(out)
    return f'{name}: exit codes {results}'


def test_pool_runs_jobs_two_at_a_time_with_slot_envs(tmp_path):
    seen = {}
    jobs = [(n, _job(tmp_path, n, codes, seen))
            for n, codes in (('a', (0, 0)), ('b', (3, 0)), ('c', (0, 5)))]
    lines = []
    pool = Pool(2, lambda slot: dict(SLOT_ENV=f'slot{slot}'),
                log=lines.append, poll_s=0.05)
    summaries = pool.run(jobs)
    assert summaries == {'a': 'a: exit codes [0, 0]',
                         'b': 'b: exit codes [3, 0]',
                         'c': 'c: exit codes [0, 5]'}
    assert pool.started == {n: ['step0', 'step1'] for n in 'abc'}
    spans = []
    for name, outs in seen.items():
        for out in outs:
            slot, start, end = open(out).read().split()
            assert slot in ('slot0', 'slot1')
            spans.append((float(start), float(end)))
    # never more than two children at once, and two did run together
    for start, _ in spans:
        assert sum(s <= start < e for s, e in spans) <= 2
    assert any(s1 < e2 and s2 < e1 for i, (s1, e1) in enumerate(spans)
               for s2, e2 in spans[i + 1:])
    # 6 commands of >= 0.4 s on 2 slots: busy >= 1.2 s, below the sum
    assert 1.2 <= pool.busy_s < pool.children_wall_s
    assert sum('started' in line for line in lines) == 3
    assert any('ETA' in line and 'c: exit codes' in line for line in lines)
    with open(tmp_path / 'a.log') as f:
        assert f.read().count('### compare:') == 2
    with pytest.raises(ValueError, match='--jobs'):
        Pool(0)


# A tool in miniature: one job whose child writes its pid and sleeps.
DRIVER = textwrap.dedent('''
    import sys
    sys.path.insert(0, {repo!r})
    from nd_mmdet.compare.launcher import Command, Pool

    def job():
        yield Command([sys.executable, '-c', 'import os, sys, time; '
                       'open(sys.argv[1], "w").write(str(os.getpid())); '
                       'time.sleep(120)', {pid!r}], {log!r})

    Pool(1, kill_timeout=5).run([('sleeper', job())])
''')


def default_sigint():
    """``preexec_fn``: the child gets the default SIGINT action (Python
    then raises KeyboardInterrupt). A suite started in the background by a
    non-interactive shell inherits SIGINT ignored, and Python keeps an
    ignored SIGINT ignored: a Ctrl-C test would then see the tool run on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _alive(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            return 'State:\tZ' not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='PR_SET_PDEATHSIG is Linux only')
@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGKILL])
def test_no_child_outlives_an_interrupted_or_killed_tool(tmp_path, sig):
    pid_file = str(tmp_path / 'child.pid')
    driver = DRIVER.format(repo=REPO, pid=pid_file,
                           log=str(tmp_path / 'child.log'))
    proc = subprocess.Popen([sys.executable, '-c', driver],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, OMP_NUM_THREADS='1'),
                            preexec_fn=default_sigint)
    deadline = time.time() + 60
    while not osp.isfile(pid_file) or not open(pid_file).read():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.time() < deadline
        time.sleep(0.1)
    child = int(open(pid_file).read())
    assert _alive(child)
    proc.send_signal(sig)
    proc.wait(30)
    assert proc.returncode != 0
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child), f'child {child} outlived the tool ({sig!r})'
