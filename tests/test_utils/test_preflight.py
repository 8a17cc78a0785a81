"""Dataset path checks that run before the Runner is built."""
import json

import pytest
from mmengine.config import Config

import nd_mmdet.utils.preflight as preflight
from nd_mmdet.utils.preflight import PreflightError, check_dataset_paths


def coco_cfg(root, ann='ann.json', img='images/', wrap=False):
    dataset = dict(type='CocoDataset', data_root=str(root), ann_file=ann,
                   data_prefix=dict(img=img))
    if wrap:
        dataset = dict(type='RepeatDataset', times=2, dataset=dataset)
    return Config(dict(train_dataloader=dict(dataset=dataset)))


def write_coco(root, images=('a.jpg', ), files=('a.jpg', ), text=None):
    (root / 'images').mkdir(exist_ok=True)
    for name in files:
        (root / 'images' / name).write_bytes(b'x')
    data = dict(images=[dict(id=i, file_name=n) for i, n in
                        enumerate(images)], annotations=[], categories=[])
    (root / 'ann.json').write_text(text if text is not None else
                                   json.dumps(data))


def check(cfg):
    check_dataset_paths(cfg, ('train_dataloader', ))


def test_valid_coco_passes(tmp_path):
    write_coco(tmp_path)
    check(coco_cfg(tmp_path))


def test_parsed_json_returned_once_per_file(tmp_path, monkeypatch):
    """The parsed COCO json is handed on to the content checks (each file
    read once); a file above the size limit is not parsed."""
    write_coco(tmp_path)
    parsed = check_dataset_paths(coco_cfg(tmp_path, wrap=True),
                                 ('train_dataloader', ))
    assert list(parsed) == [f'{tmp_path}/ann.json']
    assert parsed[f'{tmp_path}/ann.json']['images'][0]['file_name'] == 'a.jpg'
    monkeypatch.setattr(preflight, 'MAX_PREFLIGHT_JSON_BYTES', 10)
    assert check_dataset_paths(coco_cfg(tmp_path),
                               ('train_dataloader', )) == {}


def test_missing_data_root(tmp_path):
    with pytest.raises(PreflightError, match='train_dataloader.dataset.'
                       f'data_root: directory not found: {tmp_path}/x'):
        check(coco_cfg(tmp_path / 'x'))


def test_missing_ann_file_in_wrapped_dataset(tmp_path):
    with pytest.raises(PreflightError, match=r'train_dataloader\.dataset\.'
                       r'dataset\.ann_file: file not found: .*ann\.json'):
        check(coco_cfg(tmp_path, wrap=True))


def test_invalid_json(tmp_path):
    write_coco(tmp_path, text='{"images": [')
    with pytest.raises(PreflightError, match='ann.json is not valid json'):
        check(coco_cfg(tmp_path))


def test_json_that_is_not_coco(tmp_path):
    write_coco(tmp_path, text='{"images": []}')
    with pytest.raises(PreflightError, match=r"not COCO format \(missing "
                       r"keys \['annotations', 'categories'\]\)"):
        check(coco_cfg(tmp_path))


def test_listed_images_missing(tmp_path):
    write_coco(tmp_path, images=('a.jpg', 'b.jpg', 'c.jpg'))
    with pytest.raises(PreflightError, match=r"2 image\(s\) listed in .* are "
                       r"missing from .*images/, e\.g\. \['b\.jpg', 'c\.jpg'"):
        check(coco_cfg(tmp_path))


def test_missing_image_folder(tmp_path):
    write_coco(tmp_path)
    with pytest.raises(PreflightError, match='data_prefix.img: not found: '
                       '.*nope/'):
        check(coco_cfg(tmp_path, img='nope/'))
