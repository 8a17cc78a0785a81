"""Run the command-line tools as a user does: a subprocess per call."""
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(script, *args, check=True, timeout=600):
    """Run ``tools/<script>`` with this interpreter; return the process
    (stdout and stderr merged into ``.stdout``)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    env.pop('ND_MMDET_TRACEBACK', None)
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', script), *map(str, args)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'tools/{script} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}')
    return proc


def cifar_options(data_root, epochs=1, batch_size=16):
    """--cfg-options that shrink a CIFAR-100 config to the tiny test data."""
    opts = [f'train_cfg.max_epochs={epochs}',
            'default_hooks.logger.interval=1', 'randomness.seed=0',
            f'train_dataloader.batch_size={batch_size}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}',
                 f'{loader}.dataset.verify_md5=False',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return ['--cfg-options', *opts]


def last_metrics(log_text, prefix='accuracy/top1'):
    """The value of ``prefix`` on the last log line that has it."""
    for line in reversed(log_text.splitlines()):
        if prefix + ':' in line:
            return float(line.split(prefix + ':')[1].split()[0])
    raise AssertionError(f'no {prefix} in the log')
