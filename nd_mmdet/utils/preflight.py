"""Checks run by tools/train.py and tools/test.py before the Runner is built,
so that a wrong path fails in a second with one line naming it, not after
minutes of model building or deep inside a dataset class."""
import difflib
import json
import math
import numbers
import os
import os.path as osp
import sys
from collections import Counter


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


def _loader_datasets(cfg, loaders):
    """Yield ``(loader, key, dataset_cfg)`` for every dataset of the given
    dataloaders, wrappers and wrapped ones."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, dict):
            for key, ds in _datasets(loader_cfg.get('dataset'),
                                     f'{loader}.dataset'):
                yield loader, key, ds


def _joined(root, path):
    if not path or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root, path) if root else path


def check_dataset_paths(cfg, loaders):
    """Every ``data_root`` / ``ann_file`` of the given dataloaders exists,
    and COCO annotation files are valid json with the COCO keys.

    Returns ``{ann_file path: parsed json}`` of the COCO files parsed (those
    up to :data:`MAX_PREFLIGHT_JSON_BYTES`), for
    :func:`check_dataset_contents`, so that each file is read once."""
    parsed = {}
    for _, key, ds in _loader_datasets(cfg, loaders):
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
                data = check_coco_json(
                    ann, key, _joined(root, img) if img else None)
                if data is not None:
                    parsed[ann] = data
        prefixes = prefix.items() if isinstance(prefix, dict) else \
            [('', prefix)] if isinstance(prefix, str) else []
        for name, value in prefixes:
            path = _joined(root, value)
            if path and '://' not in path and not osp.exists(path):
                field = f'data_prefix.{name}' if name else 'data_prefix'
                raise PreflightError(
                    f'{key}.{field}: not found: {path}')
    return parsed


#: Annotation files above this size are not parsed twice (MMDetection
#: parses them when the dataset is built; COCO train2017 takes ~20 s).
MAX_PREFLIGHT_JSON_BYTES = 100 * 2**20


def check_coco_json(path, key='ann_file', image_dir=None):
    """``path`` is COCO json (``images``, ``annotations``, ``categories``)
    and every image it lists exists in ``image_dir`` (when given).

    Returns the parsed json, or None for a file above
    :data:`MAX_PREFLIGHT_JSON_BYTES` (not parsed)."""
    if osp.getsize(path) > MAX_PREFLIGHT_JSON_BYTES:
        return None
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
        return data
    present = set(os.listdir(image_dir))
    absent = [img.get('file_name') for img in data['images']
              if img.get('file_name') not in present
              and not osp.isfile(osp.join(image_dir,
                                          str(img.get('file_name'))))]
    if absent:
        raise PreflightError(
            f'{key}: {len(absent)} image(s) listed in {path} are missing '
            f'from {image_dir}, e.g. {absent[:3]}')
    return data


# Contents: class lists, boxes, the models' num_classes, loss arguments.
# MMDetection accepts each fault below and trains on silently (a class
# dropped, background only) or dies deep inside mmengine.

#: Keys whose sub-trees hold a ``num_classes`` that is not the dataset's
#: (the RPN is class-agnostic: ``num_classes=1``; HTC / SCNet's semantic
#: head has COCO-stuff's 183).
_OTHER_NUM_CLASSES = ('rpn_head', 'semantic_head', 'train_cfg', 'test_cfg')

#: MMDetection datasets whose class list is not the heads' (panoptic: things
#: and stuff; video / MOT: every MOT class, one detected), by name.
_NOT_ONE_HEAD_CLASS_PER_CLASS = ('CocoPanopticDataset', 'BaseVideoDataset')

#: Share of the usable boxes that may extend past their image by more than
#: a pixel before the boxes are taken for ``[x1, y1, x2, y2]`` (COCO's is
#: ``[x, y, w, h]``; real COCO boxes stay inside, give or take rounding).
MAX_OVERHANGING_BOX_SHARE = 0.25


def check_config_contents(cfg, loaders, parsed=None):
    """The checks of the config's contents, after
    :func:`check_dataset_paths` (whose return value is ``parsed``):
    :func:`check_distill_losses`, then :func:`check_dataset_contents`.
    Returns the warning lines (printed on stderr by rank 0)."""
    check_distill_losses(cfg)
    found = check_dataset_contents(cfg, loaders, parsed)
    if os.environ.get('RANK', '0') == '0':
        for line in found:
            print(f'warning: {line}', file=sys.stderr)
    return found


def check_distill_losses(cfg):
    """Build each of this package's losses in ``model.distill_losses`` once,
    so that a bad argument (negative weight, temperature <= 0, misspelled
    name) stops before any model is built, naming the key."""
    model = cfg.get('model')
    losses = model.get('distill_losses') if isinstance(model, dict) \
        else None
    if not isinstance(losses, dict):
        return
    from nd_mmdet.registry import MODELS
    for name, loss_cfg in losses.items():
        if not isinstance(loss_cfg, dict):
            continue
        args = dict(loss_cfg)
        type_name = args.pop('type', None)
        args.pop('_scope_', None)
        cls = MODELS.get(type_name) if isinstance(type_name, str) else None
        if cls is None or \
                not cls.__module__.startswith('nd_mmdet.models.losses'):
            continue  # unknown types are reported by the distiller
        try:
            cls(**args)
        except (ValueError, TypeError) as err:
            raise PreflightError(f'model.distill_losses.{name} '
                                 f'({cls.__name__}): {err}') from None


def check_dataset_contents(cfg, loaders, parsed=None):
    """Check the class list and the boxes of each dataset of ``loaders``
    against its annotation file and against the models.

    For every dataset (wrappers unwrapped) whose class list is known -
    ``metainfo.classes``, else MMPretrain's ``classes``, else the default
    ``METAINFO`` of its type (COCO's 80, CIFAR-100's 100, ...):

    - every ``num_classes`` of the model (of the student and the teacher of
      a distiller, see :func:`model_num_classes`) equals the number of
      classes;
    - for a CocoDataset json (``parsed[path]``, else read here unless above
      :data:`MAX_PREFLIGHT_JSON_BYTES`): unique image / annotation ids,
      known category ids (:func:`check_coco_ids`); each class is the name
      of exactly one category, and the classes follow the json's category
      order (CocoDataset numbers the labels in the json's order);
    - for ``train_dataloader``: at least one box that
      ``CocoDataset.parse_data_info`` keeps (inside its image,
      ``w >= 1``, ``h >= 1``, ``area > 0``, not crowd / ignore).

    Json categories that hold annotations but are not in the classes are
    taken as a deliberate subset (MMDetection's way of training on some of
    COCO's classes) and only warned about; a misspelled class is a class
    missing from the json, which is always an error.

    Returns:
        list[str]: warnings: ignored categories, classes without a usable
        training box (ND's class centre of such a class would be empty).

    Raises:
        PreflightError: naming the key, the file and the class at fault.
    """
    warnings = []
    models = list(model_num_classes(cfg))
    for loader, key, ds in _leaf_datasets(cfg, loaders):
        cls = _dataset_class(ds, cfg)
        classes, source = _dataset_classes(ds, key, cls)
        if classes is None or _mmdet_subclass(
                cls, *_NOT_ONE_HEAD_CLASS_PER_CLASS):
            continue
        for model_key, num in models:
            if num != len(classes):
                raise PreflightError(
                    f'{model_key}={num} but {source} has '
                    f'{_count(len(classes), "class")}')
        ann = _joined(ds.get('data_root'), ds.get('ann_file'))
        if not _mmdet_subclass(cls, 'CocoDataset') or \
                not isinstance(ann, str) or \
                not ann.endswith('.json'):
            continue
        data = (parsed or {}).get(ann)
        if data is None and parsed is None and osp.isfile(ann):
            data = check_coco_json(ann, key)
        if data is None:
            continue
        check_coco_ids(data, ann)
        check_finite_boxes(data, ann)
        warnings += check_class_names(data, classes, ann, source)
        if loader == 'train_dataloader':
            warnings += check_training_boxes(data, classes, ann)
    return warnings


def _leaf_datasets(cfg, loaders):
    """:func:`_loader_datasets` that wrap no other dataset."""
    for loader, key, ds in _loader_datasets(cfg, loaders):
        if 'dataset' not in ds and 'datasets' not in ds:
            yield loader, key, ds


def _dataset_class(ds, cfg):
    """The registered class of ``ds['type']`` (None when not found)."""
    name = ds.get('type')
    if isinstance(name, type):
        return name
    if not isinstance(name, str):
        return None
    from mmengine.registry import DATASETS
    scope = ds.get('_scope_') or cfg.get('default_scope')
    try:
        with DATASETS.switch_scope_and_registry(scope) as registry:
            return registry.get(name)
    except (KeyError, ImportError):
        return None


def _dataset_classes(ds, key, cls):
    """``(class names, the key they come from)`` or ``(None, None)``."""
    meta = ds.get('metainfo')
    if isinstance(meta, dict) and meta.get('classes') is not None:
        return _names(meta['classes']), f'{key}.metainfo.classes'
    if ds.get('classes') is not None:  # MMPretrain: names or a file
        return _names(ds['classes']), f'{key}.classes'
    default = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    if default:
        return (tuple(default),
                f'{key} (the default classes of {cls.__name__})')
    return None, None


def _names(classes):
    """A tuple of class names from a list or a file of one name a line
    (None for a file that does not exist)."""
    if isinstance(classes, str):
        if not osp.isfile(classes):
            return None
        with open(classes, encoding='utf-8') as f:
            return tuple(line.strip() for line in f if line.strip())
    return tuple(classes)


def _mmdet_subclass(cls, *names):
    """``cls`` derives from one of the named classes of mmdet (looked up in
    its bases: no mmdet import for a classification run)."""
    return cls is not None and any(
        base.__name__ in names and base.__module__.startswith('mmdet.')
        for base in cls.__mro__)


def _count(n, noun, plural=None):
    """``'1 class'``, ``'3 classes'``."""
    return f'{n} {noun if n == 1 else plural or noun + "es"}'


def model_num_classes(cfg):
    """Yield ``(key, num_classes)`` for every ``num_classes`` of
    ``cfg.model``; a distiller's ``student`` / ``teacher`` given as a path
    or ``'mmdet::...'`` is loaded with
    :func:`nd_mmdet.utils.model_spec.load_model_config`. The teacher is
    skipped where its head does not run: not built
    (``build_teacher=False``, tools/test.py evaluating the student) or a
    ``NeckDistiller`` (backbone and neck only; its head follows its
    checkpoint). A text-prompted detector (one with a ``language_model``:
    GLIP, Grounding DINO) is skipped: its ``num_classes`` is a budget of
    text tokens, not the dataset's classes."""
    from .model_spec import load_model_config
    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    roles = [r for r in ('student', 'teacher') if model.get(r) is not None]
    own = {k: v for k, v in model.items() if k not in roles}
    yield from _walk_num_classes(own, 'model')
    for role in roles:
        if role == 'teacher' and (
                model.get('build_teacher') is False or
                str(model.get('type', '')).endswith('NeckDistiller')):
            continue
        yield from _walk_num_classes(
            load_model_config(model[role], f'model.{role}'), f'model.{role}')


def _walk_num_classes(node, key):
    if isinstance(node, dict):
        if 'language_model' in node:
            return
        for name, value in node.items():
            if name in _OTHER_NUM_CLASSES:
                continue
            if name == 'num_classes' and isinstance(value, int) and \
                    not isinstance(value, bool):
                yield f'{key}.{name}', value
            else:
                yield from _walk_num_classes(value, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk_num_classes(value, f'{key}[{i}]')


def check_coco_ids(data, path):
    """Image and annotation ids are unique and every annotation's
    ``category_id`` is a category of the json. pycocotools keeps one image
    of a repeated id, and drops an annotation of an unknown category without
    a word (0-based ``category_id`` against 1-based categories drops one
    class and shifts the others)."""
    for what, items in (('image', data['images']),
                        ('annotation', data['annotations'])):
        ids = Counter(x.get('id') for x in items if isinstance(x, dict))
        twice = [i for i, n in ids.items() if n > 1]
        if twice:
            raise PreflightError(
                f'{path}: {_count(len(twice), what + " id", what + " ids")}'
                f' used more than once, e.g. {twice[:3]}')
    known = {c.get('id') for c in data['categories'] if isinstance(c, dict)}
    unknown = Counter(a.get('category_id') for a in data['annotations']
                      if isinstance(a, dict)
                      and a.get('category_id') not in known)
    if unknown:
        raise PreflightError(
            f'{path}: {sum(unknown.values())} annotations have a '
            f'category_id that no category has: '
            f'{sorted(unknown, key=str)[:5]} (the category ids: '
            f'{sorted(known, key=str)[:10]}); are they 0-based?')


def check_class_names(data, classes, path, source):
    """Each of ``classes`` names exactly one category of the COCO json
    ``data`` (read from ``path``), in the json's order. Returns a warning
    for the categories outside ``classes`` that hold annotations."""
    cats = [c for c in data['categories'] if isinstance(c, dict)]
    names = [c.get('name') for c in cats]
    missing = [c for c in classes if c not in names]
    if missing:
        hints = [f'{c!r} (did you mean {close[0]!r}?)' if close else repr(c)
                 for c in missing
                 for close in [difflib.get_close_matches(
                     str(c), [str(n) for n in names], n=1)]]
        raise PreflightError(
            f'{source}: {_count(len(missing), "class")} not among the '
            f'categories of {path}: {", ".join(hints[:5])}; its categories: '
            f'{names[:10]}{" ..." if len(names) > 10 else ""}')
    twice = [c for c in dict.fromkeys(classes) if classes.count(c) > 1]
    if twice:
        raise PreflightError(f'{source}: class {twice[0]!r} is listed '
                             f'{classes.count(twice[0])} times')
    shared = [n for n in dict.fromkeys(names)
              if n in classes and names.count(n) > 1]
    if shared:
        ids = [c.get('id') for c in cats if c.get('name') == shared[0]]
        raise PreflightError(
            f'{path}: categories {ids} share the name {shared[0]!r} of '
            f'{source}; CocoDataset would give each its own label and '
            'shift the labels of the classes after it')
    order = [n for n in names if n in classes]
    if order != list(classes):
        i = next(i for i, (a, b) in enumerate(zip(order, classes)) if a != b)
        raise PreflightError(
            f'{source}: the classes are not in the order of the categories '
            f'of {path}; CocoDataset numbers the labels in the json\'s '
            f'order, so label {i} would be {order[i]!r} while classes[{i}] '
            f'is {classes[i]!r}; list them as {tuple(order)}')
    per_cat = Counter(a.get('category_id') for a in data['annotations']
                      if isinstance(a, dict))
    ignored = {c.get('name'): per_cat[c.get('id')] for c in cats
               if c.get('name') not in classes and per_cat[c.get('id')]}
    if not ignored:
        return []
    kinds = _count(len(ignored), 'category', 'categories')
    return [f'{path}: {sum(ignored.values())} annotations of {kinds} not '
            f'in {source} are ignored (a subset of the classes): '
            f'{dict(list(ignored.items())[:5])}']


def check_finite_boxes(data, path):
    """Every annotation's ``bbox`` values and ``area`` are finite (json's
    ``NaN`` / ``Infinity`` parse as floats): MMDetection drops a NaN box in
    training without a word, and in a val / test json it changes the AP.

    Raises:
        PreflightError: naming ``path``, the annotation id and the value.
    """
    for ann in data['annotations']:
        if not isinstance(ann, dict):
            continue
        bbox = ann.get('bbox')
        values = list(bbox) if isinstance(bbox, (list, tuple)) else []
        named = [(f'bbox[{i}] ({"xywh"[i]})' if i < 4 else f'bbox[{i}]', v)
                 for i, v in enumerate(values)]
        named.append(('area', ann.get('area')))
        for name, value in named:
            if isinstance(value, float) and not math.isfinite(value):
                raise PreflightError(
                    f'{path}: annotation id {ann.get("id")} has {name} = '
                    f'{value} (bbox={bbox!r}); box coordinates must be '
                    'finite numbers')


def check_training_boxes(data, classes, path):
    """At least one box of ``classes`` in the COCO json ``data`` survives
    the filters of ``CocoDataset.parse_data_info``. Returns a warning per
    class without one."""
    if not data['annotations']:
        raise PreflightError(
            f'no annotations in {path}: a training set needs boxes')
    cat_ids = {c['id']: c['name'] for c in data['categories']
               if isinstance(c, dict) and c.get('name') in classes}
    sizes = {img.get('id'): img for img in data['images']
             if isinstance(img, dict)}
    usable, dropped, overhang = Counter(), Counter(), 0
    for ann in data['annotations']:
        if not isinstance(ann, dict) or \
                ann.get('category_id') not in cat_ids:
            continue
        reason, past_edge = _drop_reason(ann, sizes.get(ann.get('image_id')),
                                         path)
        if reason:
            dropped[reason] += 1
        else:
            usable[cat_ids[ann['category_id']]] += 1
            overhang += past_edge
    total = sum(usable.values())
    if not total:
        counts = ', '.join(f'{why}: {n}' for why, n in dropped.items())
        raise PreflightError(
            f'no usable boxes in {path}: {sum(dropped.values())} '
            f'annotations of the classes, all dropped by CocoDataset '
            f'({counts or "none of the classes has an annotation"})')
    if overhang > MAX_OVERHANGING_BOX_SHARE * total:
        raise PreflightError(
            f'{path}: {overhang} of {total} boxes extend more than 1 px past '
            'their image; are they [x1, y1, x2, y2]? COCO boxes are '
            '[x, y, w, h]')
    return [f'{path}: class {name!r} has no usable training box; the model '
            'never learns it and its ND class centre would be empty'
            for name in classes if not usable[name]]


def _drop_reason(ann, image, path):
    """``(why CocoDataset.parse_data_info drops ann or None, whether the box
    extends more than 1 px past its image)``."""
    if image is None:
        return 'image not listed', False
    width, height = image.get('width'), image.get('height')
    if not all(isinstance(v, numbers.Real) for v in (width, height)):
        raise PreflightError(
            f'{path}: image id {image.get("id")} '
            f'({image.get("file_name")}) has no numeric width / height')
    bbox, area = ann.get('bbox'), ann.get('area')
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or \
            not all(isinstance(v, numbers.Real) for v in [*bbox, area]):
        raise PreflightError(
            f'{path}: annotation id {ann.get("id")} has bbox={bbox!r}, '
            f'area={area!r}; COCO needs bbox=[x, y, w, h] and a numeric '
            'area')
    if ann.get('ignore', False):
        return 'ignore', False
    x, y, w, h = bbox
    inside_w = max(0, min(x + w, width) - max(x, 0))
    inside_h = max(0, min(y + h, height) - max(y, 0))
    if area <= 0 or w < 1 or h < 1:
        return 'degenerate (w<1 or h<1 or area<=0)', False
    if inside_w * inside_h == 0:
        return 'outside the image', False
    if ann.get('iscrowd', False):
        return 'crowd', False
    return None, x + w > width + 1 or y + h > height + 1
