"""The project's .venv as scripts/install.sh leaves it: ``pip check`` is
clean, and processes that never import nd_mmdet (MMDetection's and
MMPretrain's own tools, mim) import torchvision, resolve ``nd_mmdet::``
configs, print no log noise and evaluate an exported student with
MMDetection's own tools/test.py."""
import json
import os.path as osp
import sys
import textwrap

import mmdet
import mmpretrain

from tests.test_e2e.test_detection_e2e import export_student
from tests.test_packaging.runner import run
from tests.test_tools.test_export_plain import distiller_checkpoint
from tests.tiny_coco import write_tiny_coco
from tests.tools_runner import REPO, cifar_options

KDPP_CIFAR = 'cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
#: A config without custom_imports (get_config imports those).
SCHEDULE = '_base_/schedules/cifar100_bs128_240e.py'
DENSE_KDPP = 'configs/demo/dense/kd++_retinanet_r18w32-r18w8_fmnist-det-1k.py'

#: Appended to a script run by :func:`run_python`: the nd_mmdet modules
#: the process imported, on the last line.
REPORT_ND_MMDET = """
import sys as _sys
print('nd_mmdet modules:', sorted(
    m for m in _sys.modules
    if m == 'nd_mmdet' or m.startswith('nd_mmdet.')))
"""


#: Runs the script named by its first argument (the rest its arguments) as
#: ``python SCRIPT ...`` would, failing on a non-zero exit.
RUN_SCRIPT = textwrap.dedent("""
    import runpy, sys
    sys.argv = sys.argv[1:]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    except SystemExit as e:
        assert not e.code, e.code
    """)


def run_python(script, cwd, *args):
    """Run ``script`` with this interpreter in ``cwd`` (not the repository:
    the repository's nd_mmdet must not be on sys.path by accident); return
    (output, the nd_mmdet modules it imported)."""
    out = run([sys.executable, '-c', script + REPORT_ND_MMDET, *args], cwd)
    last = out.strip().splitlines()[-1]
    assert last.startswith('nd_mmdet modules:'), out[-4000:]
    return out, last.split(':', 1)[1].strip()


def test_pip_check_is_clean(tmp_path):
    out = run([sys.executable, '-m', 'pip', 'check'], tmp_path)
    assert 'No broken requirements found' in out


def test_stack_works_without_importing_nd_mmdet(tmp_path):
    user_cfg = tmp_path / 'user_cfg.py'
    user_cfg.write_text(f"_base_ = 'nd_mmdet::{KDPP_CIFAR}'\n"
                        "model = dict(teacher_ckpt='teacher.pth')\n")
    script = textwrap.dedent(f"""
        import torchvision
        from mmengine.config import Config
        from mmengine.hub import get_config
        cfg = Config.fromfile('user_cfg.py', import_custom_modules=False)
        print('loss_nd:', cfg.model.distill_losses.loss_nd.type)
        print('teacher_ckpt:', cfg.model.teacher_ckpt)
        hub = get_config('nd_mmdet::{SCHEDULE}')
        print('hub:', hub.filename)
        import mmdet.datasets, mmdet.evaluation, mmpretrain.datasets
        """)
    out, nd_modules = run_python(script, tmp_path)
    assert nd_modules == '[]'
    assert 'loss_nd: nd_mmdet.NDLoss' in out
    assert 'teacher_ckpt: teacher.pth' in out
    hub_file = out.split('hub: ')[1].splitlines()[0]
    assert hub_file.endswith(osp.join('nd_mmdet', '.mim', 'configs',
                                      SCHEDULE))
    assert osp.samefile(hub_file, osp.join(REPO, 'configs', SCHEDULE))
    # neither MMDetection's nor MMPretrain's import-time noise
    assert 'Could not import OneDL' not in out
    assert 'faster_coco_eval' not in out


def test_mmdet_own_test_tool_evaluates_an_exported_student(tmp_path):
    """Distiller checkpoint -> tools/export_student.py --save-config ->
    MMDetection's shipped tools/test.py, in a process without nd_mmdet."""
    distiller_checkpoint(DENSE_KDPP, tmp_path / 'distiller.pth')
    export_student(osp.join(REPO, DENSE_KDPP), tmp_path / 'distiller.pth',
                   tmp_path / 'student.pth', '--save-config',
                   tmp_path / 'student.py')
    assert 'nd_mmdet' not in (tmp_path / 'student.py').read_text()

    # tiny COCO scenes under the plain config's ten class names
    from mmengine.config import Config
    classes = Config.fromfile(
        str(tmp_path / 'student.py')).test_dataloader.dataset.metainfo[
            'classes']
    data = write_tiny_coco(str(tmp_path / 'coco'), num_train=1, num_val=4)
    ann_file = osp.join(data['root'], data['val_ann'])
    with open(ann_file) as f:
        coco = json.load(f)
    coco['categories'] = [dict(id=i + 1, name=name)
                          for i, name in enumerate(classes)]
    with open(ann_file, 'w') as f:
        json.dump(coco, f)

    test_py = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools',
                       'test.py')
    out, nd_modules = run_python(
        RUN_SCRIPT, tmp_path, test_py, tmp_path / 'student.py',
        tmp_path / 'student.pth', '--work-dir', tmp_path / 'work',
        '--cfg-options', f'test_dataloader.dataset.data_root={data["root"]}',
        f'test_dataloader.dataset.ann_file={data["val_ann"]}',
        'test_dataloader.dataset.data_prefix.img=val2017/',
        'test_dataloader.batch_size=2', f'test_evaluator.ann_file={ann_file}',
        'model.test_cfg.score_thr=0.0')
    assert nd_modules == '[]'
    # the untrained student's score (near 0) is not the point: the tool ran
    # the whole evaluation, COCO metric included
    assert 'coco/bbox_mAP:' in out
    assert 'Could not import OneDL' not in out
    assert 'faster_coco_eval' not in out


def test_mmpretrain_own_train_tool_trains_an_nd_mmdet_config(
        tmp_path, tiny_cifar_root, tiny_cifar_teacher):
    """MMPretrain's shipped tools/train.py on a user config whose _base_ is
    ``nd_mmdet::`` KD++ (nd_mmdet comes in through the config's
    custom_imports, after the config is parsed)."""
    user_cfg = tmp_path / 'user_cfg.py'
    user_cfg.write_text(f"_base_ = 'nd_mmdet::{KDPP_CIFAR}'\n")
    train_py = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                        'train.py')
    log = run([sys.executable, train_py, user_cfg,
               '--work-dir', tmp_path / 'work',
               *cifar_options(tiny_cifar_root),
               f'model.teacher_ckpt={tiny_cifar_teacher}'], tmp_path)
    assert 'loss_nd:' in log and 'class centres: ' in log
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
    assert 'Could not import OneDL' not in log


def test_mmpretrain_own_train_tool_trains_a_fashion_mnist_demo_config(
        tmp_path):
    """MMPretrain's tools/train.py sets ``persistent_workers=True`` on
    every loader the config does not set, which PyTorch refuses with
    ``num_workers=0``: the demo configs set it off (one iteration, the
    KD++ demo pair with an untrained teacher checkpoint)."""
    import torch
    from mmengine.config import Config
    demo = osp.join(REPO, 'configs/demo/kd++_resnet8-resnet8thin_fmnist-2k.py')
    cfg = Config.fromfile(demo)
    for loader in ('train_dataloader', 'test_dataloader'):
        assert cfg[loader].num_workers == 0
        assert cfg[loader].persistent_workers is False, loader
    teacher = tmp_path / 'teacher.pth'
    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import load_model_config
    torch.save({'state_dict': MODELS.build(
        load_model_config(cfg.model.teacher)).state_dict()}, teacher)
    train_py = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                        'train.py')
    log = run([sys.executable, train_py, demo,
               '--work-dir', tmp_path / 'work', '--cfg-options',
               'train_cfg.max_iters=1',
               'default_hooks.logger.interval=1',
               f'model.teacher_ckpt={teacher}'], tmp_path)
    # (with persistent_workers=True the run dies with "persistent_workers
    # option needs num_workers > 0" and ``run`` fails on the exit code)
    assert 'Iter(train) [1/1]' in log and 'loss_kd:' in log
    assert osp.isfile(tmp_path / 'work' / 'iter_1.pth')
