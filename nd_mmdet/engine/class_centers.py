"""Teacher class centres: computation (DDP-aware), saving and checked loading.

A centre file is a ``torch.save`` of a dict of tensors and plain values::

    centers        (K, D) float32 mean teacher embedding per class
    counts         (K,)   int64 samples (or RoIs) per class
    num_classes    K      (detection: foreground classes + background)
    dim            D
    teacher_digest short sha256 of the teacher checkpoint file

and is read back with ``weights_only`` loading (see
:func:`nd_mmdet.utils.safe_torch_load`).
"""
import os.path as osp

import torch
from mmengine import dist
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from nd_mmdet.utils import safe_torch_load


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _own_loader(dataloader):
    """``dataloader``, or, when its sampler is an mmengine ``InfiniteSampler``
    (one index generator shared by every iteration of the loader: stopping
    the pre-pass early closes it and ends the training loop's data stream),
    a loader over the same dataset with a fresh ``DefaultSampler``."""
    from mmengine.dataset import DefaultSampler, InfiniteSampler
    from torch.utils.data import DataLoader
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    sampler = getattr(batch_sampler, 'sampler', None)
    if not isinstance(sampler, InfiniteSampler):
        sampler = getattr(dataloader, 'sampler', None)
    if not isinstance(sampler, InfiniteSampler):
        return dataloader
    return DataLoader(
        dataloader.dataset,
        batch_size=dataloader.batch_size or batch_sampler.batch_size,
        sampler=DefaultSampler(dataloader.dataset, shuffle=True,
                               seed=sampler.seed),
        num_workers=dataloader.num_workers,
        collate_fn=dataloader.collate_fn,
        worker_init_fn=dataloader.worker_init_fn)


@torch.no_grad()
def prepass_length(dataloader, max_iters=None):
    """Batches the pre-pass runs: one pass, or at most ``max_iters``."""
    return len(dataloader) if max_iters is None else \
        min(max_iters, len(dataloader))


def compute_class_centers(distiller, dataloader, max_iters=None):
    """Mean teacher embedding per class over ``dataloader``.

    Runs ``distiller.teacher_embeddings_for_centers`` on each batch (teacher
    in eval mode) for one pass over the loader, or ``max_iters`` batches,
    then sums over ranks. Returns ``(centers (K, D), counts (K,))``.
    """
    dataloader = _own_loader(dataloader)
    num_classes, dim = distiller.expected_centers_shape()
    device = distiller.device
    sums = torch.zeros(num_classes, dim, dtype=torch.float64, device=device)
    counts = torch.zeros(num_classes, dtype=torch.float64, device=device)
    total = prepass_length(dataloader, max_iters)
    bar = ProgressBar(total) if dist.is_main_process() else None
    for step, data in enumerate(dataloader):
        if step >= total:
            break
        embeds, labels = distiller.teacher_embeddings_for_centers(data)
        labels = labels.to(device).long()
        if labels.numel() and (labels.min() < 0
                               or labels.max() >= num_classes):
            raise ValueError(
                f'class-centre pre-pass: label {int(labels.max())} outside '
                f'[0, {num_classes})')
        sums.index_add_(0, labels, embeds.to(device, torch.float64))
        counts += torch.bincount(labels, minlength=num_classes).double()
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    dist.all_reduce(sums)
    dist.all_reduce(counts)
    centers = sums / counts.clamp(min=1).unsqueeze(1)
    return centers.float().cpu(), counts.long().cpu()


def save_class_centers(path, centers, counts, teacher_digest):
    torch.save(
        dict(
            centers=centers,
            counts=counts,
            num_classes=int(centers.shape[0]),
            dim=int(centers.shape[1]),
            teacher_digest=str(teacher_digest)), path)


def load_class_centers(path, num_classes, dim, teacher_digest=None):
    """Load and check a centre file; returns ``centers (K, D)``.

    Raises:
        ValueError: wrong K or D, or made from another teacher checkpoint.
    """
    data = safe_torch_load(path, 'class-centre file')
    if not isinstance(data, dict) or 'centers' not in data:
        raise ValueError(f'class-centre file {path} has no "centers" entry')
    centers = data['centers']
    if tuple(centers.shape) != (num_classes, dim):
        raise ValueError(
            f'class-centre file {path} holds centres of shape '
            f'{tuple(centers.shape)}, but the teacher gives {num_classes} '
            f'classes x {dim}-d embeddings')
    saved = data.get('teacher_digest')
    if teacher_digest is not None and saved is not None and \
            saved != teacher_digest:
        raise ValueError(
            f'class-centre file {path} was computed from another teacher '
            f'checkpoint (digest {saved}, current teacher {teacher_digest}); '
            'delete it or point to the right file to recompute')
    return centers.float()


def prepare_class_centers(distiller, dataloader, centers_file, save_path,
                          max_iters=None, logger=None):
    """Load ``centers_file`` if it exists, else compute and save to
    ``save_path``; install the centres into the distiller."""
    logger = logger or MMLogger.get_current_instance()
    num_classes, dim = distiller.expected_centers_shape()
    digest = distiller.teacher_digest
    for path in (centers_file, save_path):
        if path and osp.isfile(path):
            logger.info(f'class centres: loading {path}')
            centers = load_class_centers(path, num_classes, dim, digest)
            distiller.set_class_centers(centers)
            return centers
    batches = prepass_length(dataloader, max_iters)
    logger.info(
        f'class centres: {centers_file or save_path} not found; computing '
        f'{num_classes} x {dim} teacher centres over {batches} batches of '
        'the training data' + (' (one pass)' if batches == len(dataloader)
                               else f' (max_iters={max_iters})'))
    centers, counts = compute_class_centers(distiller, dataloader, max_iters)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        logger.warning(f'class centres: classes {empty[:20]} had no samples;'
                       ' their centres are 0 and ND fails if they occur')
    if dist.is_main_process():
        save_class_centers(save_path, centers, counts, digest)
        logger.info(f'class centres: saved to {save_path}')
    distiller.set_class_centers(centers)
    return centers
