"""docs/custom_dataset.md, run as written: its ```bash blocks (except those
marked ``<!-- skip-test ... -->``, which only set ND_MMDET, FASHION_MNIST
and the environment, which this test sets itself) in one bash script, its
```python blocks written to the file named on their first line where they
stand, on tiny Fashion-MNIST files and ITERS=2 (the page's schedule reads
the iteration count from $ITERS).

``python -m tests.test_docs.test_custom_dataset_doc`` (in the repository
root) prints that script.
"""
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from nd_mmdet.datasets.fashion_mnist import write_idx
from tests.tools_runner import REPO

DOC = osp.join(REPO, 'docs', 'custom_dataset.md')
#: A fenced block, the line before it (a marker comment or not), its
#: language and body.
BLOCK = re.compile(
    r'^(?P<before>[^\n]*)\n```(?P<lang>\w+)\n(?P<body>.*?)^```$',
    re.M | re.S)
SKIP = '<!-- skip-test'
FILE = re.compile(r'# (?P<path>[\w./+-]+\.py)\b')


def doc_script(doc=DOC):
    """The page as one bash script: its bash blocks (not the skipped ones)
    and, where a python block stands, a here-document writing it to the
    file its first line names."""
    with open(doc) as f:
        text = f.read()
    lines = ['set -euxo pipefail']
    for block in BLOCK.finditer(text):
        body = block['body']
        if block['lang'] == 'bash' and not block['before'].startswith(SKIP):
            lines.append(body)
        elif block['lang'] == 'python':
            path = FILE.match(body)
            assert path, f'python block without a file name: {body[:60]!r}'
            lines.append(f"cat > {path['path']} <<'ND_MMDET_DOC_EOF'\n"
                         f'{body}ND_MMDET_DOC_EOF')
    return '\n'.join(lines) + '\n'


def skipped_exports(doc=DOC):
    """The variables the skipped blocks export (what the test provides)."""
    with open(doc) as f:
        text = f.read()
    return {name for block in BLOCK.finditer(text)
            if block['before'].startswith(SKIP)
            for name in re.findall(r'^export (\w+)=', block['body'], re.M)}


def tiny_fashion_mnist(root):
    """Fashion-MNIST idx files of 40 bright rectangles (labels 0-9) for
    both splits."""
    rng = np.random.default_rng(0)
    items = np.zeros((40, 28, 28), np.uint8)
    for item in items:
        x0, y0 = rng.integers(0, 8, size=2)
        x1, y1 = rng.integers(20, 28, size=2)
        item[y0:y1, x0:x1] = 200
    labels = (np.arange(len(items)) % 10).astype(np.uint8)
    os.makedirs(root)
    for prefix in ('train', 't10k'):
        write_idx(osp.join(root, f'{prefix}-images-idx3-ubyte.gz'), items)
        write_idx(osp.join(root, f'{prefix}-labels-idx1-ubyte.gz'), labels)
    return root


def test_the_page_runs_as_written(tmp_path):
    script = doc_script()
    assert skipped_exports() == {'ND_MMDET', 'FASHION_MNIST',
                                 'OMP_NUM_THREADS'}
    env = dict(os.environ, ND_MMDET=REPO, ITERS='2', OMP_NUM_THREADS='1',
               FASHION_MNIST=tiny_fashion_mnist(str(tmp_path / 'fmnist')),
               PATH=osp.dirname(sys.executable) + os.pathsep +
               os.environ['PATH'])
    env.pop('ND_MMDET_TRACEBACK', None)
    proc = subprocess.run(['bash', '-c', script], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:]
    project = tmp_path / 'my_fmnist'
    with open(project / 'data/fmnist3/annotations/instances_val.json') as f:
        val = json.load(f)
    assert [(c['id'], c['name']) for c in val['categories']] == \
        [(2, 'Trouser'), (8, 'Sneaker'), (9, 'Bag')]
    assert {a['category_id'] for a in val['annotations']} <= {2, 8, 9}
    # teacher, student alone, KD++, the exported student: one AP each
    aps = re.findall(r'coco/bbox_mAP: (\S+)', proc.stdout)
    assert len(aps) == 4, proc.stdout[-6000:]
    work = project / 'work_dirs'
    for run in ('teacher', 'student', 'kd++'):
        assert (work / run / 'iter_2.pth').is_file(), run
    # K = 3 classes + background centres of the teacher's 256-d box feature
    centres = torch.load(work / 'kd++' / 'class_centers.pth',
                         weights_only=True)
    assert tuple(centres['centers'].shape) == (4, 256)
    # the exported student is the distilled student, same AP
    exported = torch.load(work / 'kd++' / 'student.pth', weights_only=True)
    distilled = torch.load(work / 'kd++' / 'iter_2.pth',
                           weights_only=False)['state_dict']
    student = {k[len('student.'):]: v for k, v in distilled.items()
               if k.startswith('student.')}
    weights = exported.get('state_dict', exported)
    assert weights.keys() == student.keys()
    assert all(torch.equal(weights[k], student[k]) for k in student)
    assert aps[3] == aps[2]


def test_converter_classes_option(tmp_path):
    """The page's ``--classes``: an unknown name is refused with the valid
    ones listed; a class with no item in the files is refused too."""
    path = osp.join(REPO, 'tools', 'dataset_converters',
                    'fashion_mnist_to_coco.py')
    spec = importlib.util.spec_from_file_location('fmnist_to_coco', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.class_labels(['Bag', 'Trouser']) == [1, 8]
    assert tool.class_labels(None) is None
    with pytest.raises(ValueError, match=r"unknown class 'Shoe'.*'Sneaker'"):
        tool.class_labels(['Trouser', 'Shoe'])
    root = str(tmp_path / 'fmnist')
    tiny_fashion_mnist(root)
    labels = np.zeros(40, np.uint8)  # every item a T-shirt/top
    for prefix in ('train', 't10k'):
        write_idx(osp.join(root, f'{prefix}-labels-idx1-ubyte.gz'), labels)
    with pytest.raises(ValueError, match='no item of these classes'):
        tool.main(['--data-root', root, '--out', str(tmp_path / 'out'),
                   '--classes', 'Bag'])


if __name__ == '__main__':
    sys.stdout.write(doc_script())
