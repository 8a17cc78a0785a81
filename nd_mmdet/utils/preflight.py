"""Checks run by tools/train.py and tools/test.py before the Runner is built,
so that a wrong path fails in a second with one line naming it, not after
minutes of model building or deep inside a dataset class."""
import json
import os
import os.path as osp


class PreflightError(Exception):
    """A config / path problem found before training or testing starts."""


def _datasets(cfg_dataset, key):
    """Yield ``(key, dataset_cfg)`` for a dataset and any it wraps."""
    if not isinstance(cfg_dataset, dict):
        return
    yield key, cfg_dataset
    inner = cfg_dataset.get('dataset')
    if isinstance(inner, dict):
        yield from _datasets(inner, f'{key}.dataset')
    for i, sub in enumerate(cfg_dataset.get('datasets') or []):
        yield from _datasets(sub, f'{key}.datasets[{i}]')


def _joined(root, path):
    if not path or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root, path) if root else path


def check_dataset_paths(cfg, loaders):
    """Every ``data_root`` / ``ann_file`` of the given dataloaders exists,
    and COCO annotation files are valid json with the COCO keys."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not isinstance(loader_cfg, dict):
            continue
        for key, ds in _datasets(loader_cfg.get('dataset'),
                                 f'{loader}.dataset'):
            root = ds.get('data_root')
            if root and '://' not in root and not osp.isdir(root):
                raise PreflightError(
                    f'{key}.data_root: directory not found: {root}')
            ann = _joined(root, ds.get('ann_file'))
            prefix = ds.get('data_prefix')
            if ann and '://' not in ann:
                if not osp.isfile(ann):
                    raise PreflightError(
                        f'{key}.ann_file: file not found: {ann}')
                if ann.endswith('.json'):
                    img = prefix.get('img') if isinstance(prefix, dict) \
                        else None
                    check_coco_json(ann, key,
                                    _joined(root, img) if img else None)
            prefixes = prefix.items() if isinstance(prefix, dict) else \
                [('', prefix)] if isinstance(prefix, str) else []
            for name, value in prefixes:
                path = _joined(root, value)
                if path and '://' not in path and not osp.exists(path):
                    field = f'data_prefix.{name}' if name else 'data_prefix'
                    raise PreflightError(
                        f'{key}.{field}: not found: {path}')


#: Annotation files above this size are not parsed twice (MMDetection
#: parses them when the dataset is built; COCO train2017 takes ~20 s).
MAX_PREFLIGHT_JSON_BYTES = 100 * 2**20


def check_coco_json(path, key='ann_file', image_dir=None):
    """``path`` is COCO json (``images``, ``annotations``, ``categories``)
    and every image it lists exists in ``image_dir`` (when given)."""
    if osp.getsize(path) > MAX_PREFLIGHT_JSON_BYTES:
        return
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PreflightError(
            f'{key}.ann_file: {path} is not valid json ({err})') from None
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(data, dict) or k not in data]
    if missing:
        raise PreflightError(f'{key}.ann_file: {path} is not COCO format '
                             f'(missing keys {missing})')
    if image_dir is None or not osp.isdir(image_dir):
        return
    present = set(os.listdir(image_dir))
    absent = [img.get('file_name') for img in data['images']
              if img.get('file_name') not in present
              and not osp.isfile(osp.join(image_dir,
                                          str(img.get('file_name'))))]
    if absent:
        raise PreflightError(
            f'{key}: {len(absent)} image(s) listed in {path} are missing '
            f'from {image_dir}, e.g. {absent[:3]}')
