"""Data and config faults that MMDetection accepts and trains on silently
(a class dropped, background only, a head of the wrong size) stop in the
preflight of tools/train.py / tools/test.py with one line naming the key,
the file or the class at fault (issue 15).

Most cases call the preflight in-process on a tiny COCO json (categories
2 'red_box', 5 'green_ellipse', 9 'blue_box') edited by the test; three run
tools/train.py to show the tool stops there, before the Runner is built.
"""
import json

import pytest
from mmengine.config import Config

import nd_mmdet.utils.preflight as preflight
from nd_mmdet.utils.preflight import (PreflightError, check_config_contents,
                                      check_dataset_contents,
                                      check_dataset_paths)
from tests.tiny_coco import CLASSES, write_tiny_coco
from tests.tools_runner import run_tool

TRAIN = ('train_dataloader', )
TWO_STAGE = dict(type='FasterRCNN', rpn_head=dict(type='RPNHead'),
                 roi_head=dict(bbox_head=dict(num_classes=3)))


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    write_tiny_coco(str(root), num_train=4, num_val=2)
    return root


def train_json(coco):
    with open(coco / 'annotations' / 'instances_train2017.json') as f:
        return json.load(f)


def write_json(coco, tmp_path, edit):
    """The tiny train json after ``edit(data)``; returns its path."""
    data = train_json(coco)
    edit(data)
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(data))
    return str(path)


def dataset(coco, ann=None, classes=CLASSES, split='train2017'):
    ds = dict(type='CocoDataset', data_root=str(coco) + '/',
              ann_file=ann or f'annotations/instances_{split}.json',
              data_prefix=dict(img=f'{split}/'))
    if classes is not None:
        ds['metainfo'] = dict(classes=tuple(classes))
    return ds


def det_cfg(coco, model=TWO_STAGE, ann=None, classes=CLASSES, **loaders):
    loaders.setdefault('train_dataloader',
                       dict(dataset=dataset(coco, ann, classes)))
    return Config(dict(default_scope='mmdet', model=model, **loaders))


def preflight_of(cfg, loaders=TRAIN):
    """What tools/train.py runs before building the Runner."""
    return check_config_contents(cfg, loaders,
                                 check_dataset_paths(cfg, loaders))


def distiller(student=TWO_STAGE, teacher=TWO_STAGE, **kwargs):
    return {'type': 'nd_mmdet.TwoStageDistiller', 'student': student,
            'teacher': teacher, **kwargs}


def head(num_classes, key='bbox_head'):
    return {'type': 'RetinaNet', key: dict(num_classes=num_classes)}


def cascade(*nums):
    return dict(type='CascadeRCNN', rpn_head=dict(num_classes=1),
                roi_head=dict(bbox_head=[dict(num_classes=n) for n in nums]))


# --- config classes vs the json's categories ------------------------------

def set_name(cat_id, name):
    def edit(data):
        for cat in data['categories']:
            if cat['id'] == cat_id:
                cat['name'] = name
    return edit


NAME_FAULTS = {
    'misspelled class': (
        dict(classes=('red_bx', 'green_ellipse', 'blue_box')),
        r"metainfo\.classes: 1 class not among the categories of "
        r".*instances_train2017\.json: 'red_bx' \(did you mean 'red_box'"),
    'class in another case': (
        dict(classes=('Red_Box', 'green_ellipse', 'blue_box')),
        r"1 class not among .*'Red_Box' \(did you mean 'red_box'\?\)"),
    'trailing space in a class': (
        dict(classes=('red_box ', 'green_ellipse', 'blue_box')),
        r"1 class not among .*'red_box ' \(did you mean 'red_box'\?\)"),
    'no metainfo: COCO 80 applies to a custom json': (
        dict(classes=None, model=head(80)),
        r"train_dataloader\.dataset \(the default classes of CocoDataset\)"
        r": 80 classes not among the categories of .*'person'"),
    'classes in another order than the json': (
        dict(classes=('blue_box', 'red_box', 'green_ellipse')),
        r"not in the order of the categories of .*instances_train2017\.json"
        r".*label 0 would be 'red_box' while classes\[0\] is 'blue_box'; "
        r"list them as \('red_box', 'green_ellipse', 'blue_box'\)"),
    'class listed twice': (
        dict(classes=('red_box', 'green_ellipse', 'blue_box', 'red_box'),
             model=head(4)),
        r"metainfo\.classes: class 'red_box' is listed 2 times"),
    'json renamed a category': (
        dict(edit=set_name(5, 'green ellipse')),
        r"1 class not among .*'green_ellipse' \(did you mean "
        r"'green ellipse'\?\)"),
    'two json categories share a class name': (
        dict(edit=lambda d: d['categories'].append(
            dict(id=11, name='red_box', supercategory='shape'))),
        r"train\.json: categories \[2, 11\] share the name 'red_box'"),
}


@pytest.mark.clear_error
@pytest.mark.parametrize('fault', NAME_FAULTS)
def test_class_name_fault(coco, tmp_path, fault):
    args, match = NAME_FAULTS[fault]
    args = dict(args)
    edit = args.pop('edit', None)
    ann = write_json(coco, tmp_path, edit) if edit else None
    with pytest.raises(PreflightError, match=match):
        preflight_of(det_cfg(coco, ann=ann, **{'model': head(3), **args}))


@pytest.mark.clear_error
def test_val_set_checked_by_test_tool(coco):
    """tools/test.py checks its test_dataloader the same way."""
    cfg = det_cfg(coco, model=head(3), train_dataloader=None,
                  test_dataloader=dict(dataset=dataset(
                      coco, classes=('red_box', 'green_elipse', 'blue_box'),
                      split='val2017')))
    with pytest.raises(PreflightError, match=r"test_dataloader\.dataset\."
                       r"metainfo\.classes: .*instances_val2017\.json: "
                       r"'green_elipse' \(did you mean 'green_ellipse'"):
        preflight_of(cfg, ('test_dataloader', ))


def zero_based_category_ids(data):
    ids = [c['id'] for c in data['categories']]
    for ann in data['annotations']:
        ann['category_id'] = ids.index(ann['category_id'])


ID_FAULTS = {
    '0-based category ids against the categories\' own': (
        zero_based_category_ids,
        r"train\.json: \d+ annotations have a category_id that no category "
        r"has: \[0, 1\] \(the category ids: \[2, 5, 9\]\); are they "
        r"0-based\?"),
    'two images with one id': (
        lambda d: d['images'][1].update(id=d['images'][0]['id']),
        r'train\.json: 1 image id used more than once, e\.g\. \[1\]'),
    'two annotations with one id': (
        lambda d: d['annotations'][1].update(id=1),
        r'train\.json: 1 annotation id used more than once'),
}



# --- config classes vs the models' num_classes -----------------------------

def write_model_config(tmp_path, num_classes):
    path = tmp_path / 'retinanet.py'
    path.write_text(f'model = dict(type="RetinaNet", bbox_head=dict('
                    f'num_classes={num_classes}))\n')
    return str(path)


NUM_CLASSES_FAULTS = {
    'two-stage detector': (
        dict(type='FasterRCNN', roi_head=dict(bbox_head=dict(
            num_classes=80))),
        r'model\.roi_head\.bbox_head\.num_classes=80 but train_dataloader'
        r'\.dataset\.metainfo\.classes has 3 classes'),
    'one-stage detector': (
        head(1), r'model\.bbox_head\.num_classes=1 but .* has 3 classes'),
    'cascade: one stage of three': (
        cascade(3, 3, 80),
        r'model\.roi_head\.bbox_head\[2\]\.num_classes=80 but'),
    'mask head': (
        dict(type='MaskRCNN', roi_head=dict(
            bbox_head=dict(num_classes=3), mask_head=dict(num_classes=80))),
        r'model\.roi_head\.mask_head\.num_classes=80'),
    'distiller student': (
        distiller(student=dict(type='FasterRCNN', roi_head=dict(
            bbox_head=dict(num_classes=80)))),
        r'model\.student\.roi_head\.bbox_head\.num_classes=80 but '
        r'train_dataloader\.dataset\.metainfo\.classes has 3 classes'),
    'distiller teacher': (
        distiller(teacher=cascade(3, 80, 3)),
        r'model\.teacher\.roi_head\.bbox_head\[1\]\.num_classes=80'),
    'student from the mmdet package config (COCO 80)': (
        distiller(student='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
                  type='nd_mmdet.DenseDistiller', teacher=head(3)),
        r'model\.student\.bbox_head\.num_classes=80 but .* has 3 classes'),
    'neck distiller: its own num_classes (ND at GT boxes)': (
        dict(type='nd_mmdet.NeckDistiller', student=head(3),
             teacher=head(80), num_classes=5),
        r'model\.num_classes=5 but .* has 3 classes'),
}


@pytest.mark.clear_error
@pytest.mark.parametrize('fault', NUM_CLASSES_FAULTS)
def test_num_classes_fault(coco, fault):
    model, match = NUM_CLASSES_FAULTS[fault]
    with pytest.raises(PreflightError, match=match):
        preflight_of(det_cfg(coco, model=model))


@pytest.mark.clear_error
def test_student_config_path_with_wrong_num_classes(coco, tmp_path):
    path = write_model_config(tmp_path, 20)
    cfg = det_cfg(coco, model=distiller(student=path, teacher=head(3)))
    with pytest.raises(PreflightError, match=r'model\.student\.bbox_head\.'
                       r'num_classes=20 but .* has 3 classes'):
        preflight_of(cfg)


@pytest.mark.clear_error
@pytest.mark.parametrize('wrap', ['RepeatDataset', 'ConcatDataset'])
def test_wrapped_dataset_names_the_inner_key(coco, wrap):
    inner = dataset(coco, classes=('red_box', ))
    wrapped = dict(type=wrap, times=2, dataset=inner) \
        if wrap == 'RepeatDataset' else \
        dict(type=wrap, datasets=[dataset(coco), inner])
    key = 'dataset' if wrap == 'RepeatDataset' else r'datasets\[1\]'
    cfg = det_cfg(coco, model=head(3),
                  train_dataloader=dict(dataset=wrapped))
    with pytest.raises(PreflightError, match=r'bbox_head\.num_classes=3 but '
                       rf'train_dataloader\.dataset\.{key}\.metainfo\.'
                       r'classes has 1 class$'):
        preflight_of(cfg)


def cls_cfg(dataset_type, head_classes, **model_extra):
    model = dict(type='ImageClassifier',
                 head=dict(type='LinearClsHead', num_classes=head_classes),
                 **model_extra)
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(type='nd_mmdet.ClassificationDistiller', student=model,
                   teacher=model),
        train_dataloader=dict(dataset=dict(type=dataset_type,
                                           data_root='unused'))))


CLASSIFICATION_FAULTS = {
    'CIFAR-100 with a 10-class head': (
        cls_cfg('nd_mmdet.CIFAR100', 10),
        r'model\.student\.head\.num_classes=10 but train_dataloader\.'
        r'dataset \(the default classes of CIFAR100\) has 100 classes'),
    'Fashion-MNIST with a CIFAR-100 head': (
        cls_cfg('nd_mmdet.FashionMNIST', 100),
        r'head\.num_classes=100 but .*FashionMNIST\) has 10 classes'),
    'ImageNet with a 100-class head': (
        cls_cfg('ImageNet', 100),
        r'head\.num_classes=100 but .*ImageNet\) has 1000 classes'),
    'CIFAR-100 with a preprocessor of 10 classes (mixup one-hot)': (
        cls_cfg('nd_mmdet.CIFAR100', 100,
                data_preprocessor=dict(num_classes=10)),
        r'model\.student\.data_preprocessor\.num_classes=10 but'),
}


@pytest.mark.clear_error
@pytest.mark.parametrize('fault', CLASSIFICATION_FAULTS)
def test_classification_num_classes_fault(fault):
    cfg, match = CLASSIFICATION_FAULTS[fault]
    with pytest.raises(PreflightError, match=match):
        check_dataset_contents(cfg, TRAIN)


@pytest.mark.clear_error
def test_classes_file_of_mmpretrain(tmp_path):
    names = tmp_path / 'classes.txt'
    names.write_text('cat\ndog\n')
    cfg = cls_cfg('ImageNet', 1000)
    cfg.train_dataloader.dataset.classes = str(names)
    with pytest.raises(PreflightError, match=r'head\.num_classes=1000 but '
                       r'train_dataloader\.dataset\.classes has 2 classes'):
        check_dataset_contents(cfg, TRAIN)


# --- training boxes -------------------------------------------------------

def each_box(change):
    def edit(data):
        for ann in data['annotations']:
            change(ann)
    return edit


def set_box(x=None, y=None, w=None, h=None, area=None):
    def change(ann):
        for i, v in enumerate((x, y, w, h)):
            if v is not None:
                ann['bbox'][i] = v
        if area is not None:
            ann['area'] = area
    return change


def crowd_every_other(data):
    for i, ann in enumerate(data['annotations']):
        if i % 2:
            ann['iscrowd'] = 1
        else:
            ann['bbox'][2] = 0.5


def xyxy(data):
    for ann in data['annotations']:
        x, y, w, h = ann['bbox']
        ann['bbox'] = [x, y, x + w, y + h]


BOX_FAULTS = {
    'no annotations at all': (
        lambda d: d.update(annotations=[]),
        r'no annotations in .*train\.json: a training set needs boxes'),
    'all boxes narrower than 1 px': (
        each_box(set_box(w=0.5)),
        r'no usable boxes in .*train\.json: (\d+) annotations of the '
        r'classes, all dropped by CocoDataset \(degenerate \(w<1 or h<1 or '
        r'area<=0\): \1\)'),
    'all boxes lower than 1 px': (
        each_box(set_box(h=0)), r'degenerate \(w<1 or h<1 or area<=0\)'),
    'all areas zero': (
        each_box(set_box(area=0)), r'no usable boxes .*degenerate'),
    'all crowd': (
        each_box(lambda a: a.update(iscrowd=1)),
        r'no usable boxes in .*all dropped by CocoDataset \(crowd: \d+\)'),
    'all flagged ignore': (
        each_box(lambda a: a.update(ignore=1)), r'\(ignore: \d+\)'),
    'all boxes outside their image': (
        each_box(set_box(x=500)), r'\(outside the image: \d+\)'),
    'degenerate and crowd mixed': (
        crowd_every_other,
        r'all dropped by CocoDataset \((degenerate .*: \d+, crowd: \d+|'
        r'crowd: \d+, degenerate .*: \d+)\)'),
    'annotations of images the json does not list': (
        each_box(lambda a: a.update(image_id=a['image_id'] + 1000)),
        r'\(image not listed: \d+\)'),
    'boxes written as [x1, y1, x2, y2]': (
        xyxy, r'train\.json: \d+ of \d+ boxes extend more than 1 px past '
        r'their image; are they \[x1, y1, x2, y2\]\?'),
    'a box of three numbers': (
        lambda d: d['annotations'][1].update(bbox=[1, 2, 3]),
        r'train\.json: annotation id 2 has bbox=\[1, 2, 3\]'),
    'an annotation without area': (
        lambda d: d['annotations'][0].pop('area'),
        r'annotation id 1 has bbox=.*area=None; COCO needs'),
    'an image without width / height': (
        lambda d: d['images'][0].pop('width'),
        r'train\.json: image id 1 \(000000000001\.png\) has no numeric '
        r'width / height'),
}


JSON_FAULTS = {**ID_FAULTS, **BOX_FAULTS}


@pytest.mark.clear_error
@pytest.mark.parametrize('fault', JSON_FAULTS)
def test_json_fault(coco, tmp_path, fault):
    """Ids (any loader) and training boxes of an edited train json."""
    edit, match = JSON_FAULTS[fault]
    with pytest.raises(PreflightError, match=match):
        preflight_of(det_cfg(coco, ann=write_json(coco, tmp_path, edit)))


@pytest.mark.clear_error
def test_subset_class_without_annotations(coco, tmp_path):
    """Training on 'blue_box' alone, from a json that has none."""
    ann = write_json(coco, tmp_path, lambda d: d.update(annotations=[
        a for a in d['annotations'] if a['category_id'] != 9]))
    with pytest.raises(PreflightError, match=r'no usable boxes in .*: 0 '
                       r'annotations .*none of the classes has an anno'):
        preflight_of(det_cfg(coco, model=head(1), ann=ann,
                             classes=('blue_box', )))


# --- what passes, with a warning where something is worth knowing ---------

def test_valid_dataset_passes_without_warnings(coco):
    loaders = ('train_dataloader', 'val_dataloader')
    cfg = det_cfg(coco, model=distiller(), val_dataloader=dict(
        dataset=dataset(coco, split='val2017')))
    assert preflight_of(cfg, loaders) == []


@pytest.mark.survived
def test_subset_of_classes_is_a_warning(coco, capsys):
    """Listing fewer classes than the json has is MMDetection's way to train
    on a subset: allowed, with the ignored annotations counted."""
    per_cat = [a['category_id'] for a in train_json(coco)['annotations']]
    green, blue = per_cat.count(5), per_cat.count(9)
    found = preflight_of(det_cfg(coco, model=head(1), classes=('red_box', )))
    assert green and blue and found == [
        f'{coco}/annotations/instances_train2017.json: {green + blue} '
        'annotations of 2 categories not in train_dataloader.dataset.'
        'metainfo.classes are ignored (a subset of the classes): '
        f"{{'green_ellipse': {green}, 'blue_box': {blue}}}"]
    assert capsys.readouterr().err == f'warning: {found[0]}\n'


@pytest.mark.survived
def test_class_without_usable_box_is_a_warning(coco, tmp_path):
    """Another class still trains; the empty one is named (its ND class
    centre would be empty)."""
    ann = write_json(coco, tmp_path, each_box(
        lambda a: a['category_id'] == 5 and a.update(iscrowd=1)))
    found = preflight_of(det_cfg(coco, ann=ann))
    assert found == [f"{ann}: class 'green_ellipse' has no usable training "
                     'box; the model never learns it and its ND class '
                     'centre would be empty']


@pytest.mark.survived
@pytest.mark.parametrize('model', [
    distiller(teacher=head(80), build_teacher=False),
    dict(type='nd_mmdet.NeckDistiller', student=head(3), teacher=head(80)),
], ids=['teacher not built (tools/test.py)', 'neck distiller teacher'])
def test_teacher_whose_head_does_not_run_is_not_compared(coco, model):
    """A teacher trained on other classes is fine where its head never
    runs; the student is still compared."""
    assert preflight_of(det_cfg(coco, model=model)) == []
    model = {**model, 'student': head(80)}
    with pytest.raises(PreflightError, match=r'model\.student\.bbox_head'):
        preflight_of(det_cfg(coco, model=model))


NOT_DATASET_CLASSES = {
    'HTC semantic head (COCO-stuff 183)': dict(
        type='HybridTaskCascade', rpn_head=dict(num_classes=1),
        roi_head=dict(bbox_head=[dict(num_classes=3)],
                      semantic_head=dict(num_classes=183))),
    'text-prompted detector (token budget)': dict(
        type='GroundingDINO', language_model=dict(type='BertModel'),
        bbox_head=dict(num_classes=256)),
}


@pytest.mark.survived
@pytest.mark.parametrize('fault', NOT_DATASET_CLASSES)
def test_num_classes_that_are_not_the_datasets_pass(coco, fault):
    assert preflight_of(det_cfg(coco, model=NOT_DATASET_CLASSES[fault])) \
        == []


@pytest.mark.survived
def test_panoptic_dataset_is_not_compared(coco):
    """Things + stuff (133 on COCO) against 80 thing heads: skipped."""
    cfg = det_cfg(coco, model=head(80), classes=None)
    cfg.train_dataloader.dataset.type = 'CocoPanopticDataset'
    assert check_dataset_contents(cfg, TRAIN) == []


@pytest.mark.survived
def test_large_json_skips_parsing_but_not_num_classes(coco, monkeypatch):
    """Above MAX_PREFLIGHT_JSON_BYTES the json is not parsed (a misspelled
    class passes the preflight) but num_classes is still compared."""
    monkeypatch.setattr(preflight, 'MAX_PREFLIGHT_JSON_BYTES', 10)
    bad = ('red_bx', 'green_ellipse', 'blue_box')
    assert preflight_of(det_cfg(coco, model=head(3), classes=bad)) == []
    with pytest.raises(PreflightError, match='num_classes=80 but'):
        preflight_of(det_cfg(coco, model=head(80), classes=bad))


@pytest.mark.parametrize('config', [
    'configs/coco/kd++/kd++_faster-rcnn_r101-r18_fpn_ms-1x_coco.py',
    'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py',
])
def test_repository_configs_agree_with_their_datasets(config):
    """The shipped configs (COCO 80 without metainfo; CIFAR-100) pass the
    num_classes comparison (datasets not on disk: paths not checked)."""
    cfg = Config.fromfile(config)
    assert check_dataset_contents(cfg, TRAIN) == []


# --- through tools/train.py: stops before the Runner is built -------------

STUDENT_CFG = 'configs/coco/faster_rcnn/faster-rcnn_r18_fpn_ms-1x_coco.py'


def train_tool(coco, tmp_path, *options):
    opts = []
    for loader in ('train_dataloader', 'val_dataloader'):
        opts.append(f'{loader}.dataset.data_root={coco}/')
    return run_tool('train.py', STUDENT_CFG, '--work-dir', tmp_path,
                    '--cfg-options', *opts, *options, check=False)


def error_line(proc):
    lines = [ln for ln in proc.stdout.splitlines()
             if ln.startswith('error: ')]
    assert proc.returncode == 1 and len(lines) == 1, proc.stdout[-3000:]
    return lines[0]


@pytest.mark.clear_error
def test_train_tool_stops_on_misspelled_class(coco, tmp_path):
    classes = '[red_box,green_elipse,blue_box]'
    proc = train_tool(
        coco, tmp_path, 'model.roi_head.bbox_head.num_classes=3',
        f'train_dataloader.dataset.metainfo.classes={classes}',
        f'val_dataloader.dataset.metainfo.classes={classes}')
    assert "train_dataloader.dataset.metainfo.classes: 1 class not among " \
        f"the categories of {coco}/annotations/instances_train2017.json: " \
        "'green_elipse' (did you mean 'green_ellipse'?)" in error_line(proc)
    assert 'Traceback' not in proc.stdout
    assert not list(tmp_path.rglob('*.log'))  # no Runner: no log file


@pytest.mark.clear_error
def test_train_tool_stops_on_num_classes(coco, tmp_path):
    """The tiny data's 3 classes given, the head left at COCO's 80."""
    classes = '[red_box,green_ellipse,blue_box]'
    proc = train_tool(
        coco, tmp_path,
        f'train_dataloader.dataset.metainfo.classes={classes}',
        f'val_dataloader.dataset.metainfo.classes={classes}')
    assert error_line(proc).startswith(
        'error: model.roi_head.bbox_head.num_classes=80 but '
        'train_dataloader.dataset.metainfo.classes has 3 classes')
    assert not list(tmp_path.rglob('*.log'))
