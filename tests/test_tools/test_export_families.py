"""tools/export_student.py --save-config for every detector family of the
coverage matrix (tests/detector_zoo.py): the exported student config is the
one the user wrote (a detector's constructor writes into its sub-configs:
DETR heads get share_pred_layer / num_pred_layer / as_two_stage, which
MMDetection then refuses to be given), so MMDetection builds it and loads
the exported weights strictly in a process that never imports nd_mmdet;
the DETR families (Deformable DETR, DINO: the ones whose constructor
mutates its head config) are evaluated end to end by MMDetection's own
tools/test.py."""
import os.path as osp
import textwrap

import mmdet
import pytest
import torch
from mmengine.config import Config

from nd_mmdet.utils import build_model_from_spec
from tests.detector_zoo import FAMILIES, tiny_detector
from tests.detector_zoo import test_pipeline as family_test_pipeline
from tests.test_e2e.test_detection_e2e import export_student
from tests.test_packaging.test_environment import RUN_SCRIPT, run_python
from tests.tiny_coco import CLASSES, write_tiny_coco

torch.set_num_threads(1)
FULL_TEST = ('deformable_detr', 'dino')

BUILD_ALL = textwrap.dedent("""
    import sys
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS
    for folder in sys.argv[1:]:
        cfg = Config.fromfile(folder + '/student.py')
        init_default_scope(cfg.default_scope)
        model = MODELS.build(cfg.model)
        state = torch.load(folder + '/student.pth',
                           weights_only=True)['state_dict']
        model.load_state_dict(state, strict=True)
        print('built', folder.rsplit('/', 1)[1], type(model).__name__,
              len(state))
    """)


def distiller_config(family, folder, coco):
    """A NeckDistiller config file of ``family`` (student and teacher given
    as model dicts, as a user writes them) with a tiny COCO test set."""
    dataset = dict(
        type='CocoDataset', data_root=coco['root'],
        ann_file=coco['val_ann'], data_prefix=dict(img='val2017/'),
        metainfo=dict(classes=CLASSES), test_mode=True,
        pipeline=family_test_pipeline(family))
    cfg = Config(dict(
        default_scope='mmdet',
        custom_imports=dict(imports=['nd_mmdet'],
                            allow_failed_imports=False),
        model=dict(
            _scope_='nd_mmdet', type='NeckDistiller',
            student=tiny_detector(family).to_dict(),
            teacher=tiny_detector(family, width=2).to_dict(),
            distill_losses=dict(loss_pkd=dict(type='PKDLoss'))),
        test_dataloader=dict(
            batch_size=2, num_workers=0, dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        test_evaluator=dict(
            type='CocoMetric', metric='bbox',
            ann_file=osp.join(coco['root'], coco['val_ann'])),
        test_cfg=dict(type='TestLoop')))
    path = str(folder / 'distiller.py')
    cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """family -> folder with the exported student.py / student.pth, and the
    student state dicts they came from."""
    root = tmp_path_factory.mktemp('export_families')
    coco = write_tiny_coco(str(root / 'coco'), num_train=1, num_val=2)
    folders, states = {}, {}
    for family in FAMILIES:
        folder = root / family
        folder.mkdir()
        config = distiller_config(family, folder, coco)
        torch.manual_seed(0)
        states[family] = build_model_from_spec(
            tiny_detector(family)).state_dict()
        torch.save(dict(state_dict={f'student.{k}': v
                                    for k, v in states[family].items()},
                        meta=dict(dataset_meta=dict(classes=CLASSES))),
                   folder / 'distiller.pth')
        export_student(config, folder / 'distiller.pth',
                       folder / 'student.pth', '--save-config',
                       folder / 'student.py')
        folders[family] = folder
    return folders, states, coco


def test_every_family_exports_the_config_as_written(exported):
    folders, _, _ = exported
    for family, folder in folders.items():
        text = (folder / 'student.py').read_text()
        assert 'nd_mmdet' not in text, family
        written = Config.fromfile(str(folder / 'student.py')).model
        wanted = tiny_detector(family).to_dict()
        wanted.pop('_scope_')
        assert written.to_dict() == Config(dict(model=wanted)).model.to_dict(
        ), family


def test_mmdet_builds_every_exported_student_without_nd_mmdet(
        exported, tmp_path):
    folders, states, _ = exported
    out, nd_modules = run_python(
        BUILD_ALL, tmp_path, *[str(folders[f]) for f in FAMILIES])
    assert nd_modules == '[]'
    built = [line.split() for line in out.splitlines()
             if line.startswith('built ')]
    assert [b[1] for b in built] == list(FAMILIES)
    assert [int(b[3]) for b in built] == [len(states[f]) for f in FAMILIES]


@pytest.mark.parametrize('family', FULL_TEST)
def test_mmdet_own_test_tool_evaluates_an_exported_detr_student(
        exported, tmp_path, family):
    folders, _, _ = exported
    folder = folders[family]
    test_py = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools',
                       'test.py')
    out, nd_modules = run_python(
        RUN_SCRIPT, tmp_path, test_py, folder / 'student.py',
        folder / 'student.pth', '--work-dir', tmp_path / 'work')
    assert nd_modules == '[]'
    assert 'coco/bbox_mAP:' in out
