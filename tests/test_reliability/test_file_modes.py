"""Files written through the atomic write get the mode a plain write gives
them (mmengine: ``open(path, 'wb')``): ``0o666 & ~umask`` for a new file,
the old file's mode for a replaced one; never the temporary file's 0600."""
import os
import stat

import pytest
import torch
from mmengine.evaluator import DumpResults
from mmengine.runner.checkpoint import save_checkpoint

import nd_mmdet  # noqa: F401  (applies the compat workarounds)
from nd_mmdet.compat import current_umask
from nd_mmdet.engine.class_centers import save_class_centers


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it after."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _write_all(directory):
    """A checkpoint, a centre file and a test.py --out file (DumpResults
    is what tools/test.py --out registers)."""
    ckpt = directory / 'epoch_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(2)}}, str(ckpt))
    centers = directory / 'class_centers.pth'
    save_class_centers(str(centers), torch.zeros(3, 4),
                       torch.ones(3, dtype=torch.long), 'digest')
    out = directory / 'results.pkl'
    dump = DumpResults(out_file_path=str(out))
    dump.results = [{'pred': 1}]
    dump.compute_metrics(dump.results)
    return [ckpt, centers, out]


@pytest.mark.parametrize('mask,expected', [(0o022, 0o644), (0o077, 0o600),
                                           (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    assert current_umask() == mask
    for path in _write_all(tmp_path):
        assert _mode(path) == expected, path
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith('.tmp')) \
        == []


def test_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    paths = _write_all(tmp_path)
    for path in paths:
        os.chmod(path, 0o640)
    _write_all(tmp_path)
    assert [_mode(p) for p in paths] == [0o640] * 3
    # and the content is the new one (the rename happened)
    assert torch.load(str(paths[0]))['state_dict']['w'].tolist() == [1., 1.]


def test_umask_read_leaves_it_unchanged(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027
