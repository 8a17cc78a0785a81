"""Teacher class centres: computation (DDP-aware), saving and checked loading.

A centre file is a ``torch.save`` of a dict of tensors and plain values::

    centers        (K, D) float32 mean teacher embedding per class
    counts         (K,)   int64 samples (or RoIs) per class
    num_classes    K      (detection: foreground classes + background)
    dim            D
    teacher_digest short sha256 of the teacher checkpoint file
    dataset        dict(type, length, digest) of the training data
                   (see :mod:`nd_mmdet.engine.dataset_identity`)
    max_iters      pre-pass length limit (None = one pass)
    row_digests    K short sha256 digests, one per row (its float32
                   bytes): see :func:`row_digests`
    counts_digest  short sha256 of ``counts``
    format_version 3

It is written atomically and checked when loaded: a file that does not fit
the run (shape, non-finite rows, another teacher or dataset) is refused
with an error naming it when the user gave it, or recomputed when it is
the run's own cache in the work dir.

The row digests catch a file whose rows were edited after it was written
while its metadata was kept (the rows of a file permuted to another class
order, say): every row must hash to its recorded digest, and the error
says which rows hold another class's centre. A digest is the cheap, sound
choice: checking each row against a quick recomputation of a few batches
would need teacher passes and could not tell the classes of a weak teacher
apart (or cover classes absent from those batches); a user who means to
change the rows writes a new file with :func:`save_class_centers` (or
``tools/compute_class_centers.py``). A file without digests (hand-made, or
format 2) is refused when the user gives it and recomputed as a cache.

It is read back with ``weights_only`` loading (see
:func:`nd_mmdet.utils.safe_torch_load`).
"""
import hashlib
import os.path as osp

import torch
from mmengine import dist
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from nd_mmdet.utils import safe_torch_load
from nd_mmdet.utils.rng import preserved_rng
from .dataset_identity import dataset_identity

#: Version of the centre-file layout (2: dataset identity and max_iters;
#: 3: row digests).
FORMAT_VERSION = 3


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
    # The global random states are put back after the pass: training
    # starts from the state it would start from without ND (or with
    # centres loaded from a cache), see nd_mmdet.utils.rng.
    with preserved_rng(device):
        _accumulate(distiller, dataloader, total, sums, counts, bar)
    if bar is not None:
        print()
    dist.all_reduce(sums)
    dist.all_reduce(counts)
    centers = sums / counts.clamp(min=1).unsqueeze(1)
    return centers.float().cpu(), counts.long().cpu()


def _accumulate(distiller, dataloader, total, sums, counts, bar):
    """Add the teacher embeddings of ``total`` batches of ``dataloader``
    to ``sums`` (K, D) and their label counts to ``counts`` (K,)."""
    num_classes, device = sums.shape[0], sums.device
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


def row_digests(centers):
    """One 16-hex-digit sha256 per row of ``centers`` (K, D), over the
    row's float32 bytes."""
    rows = centers.detach().float().cpu().contiguous()
    return [hashlib.sha256(rows[i].numpy().tobytes()).hexdigest()[:16]
            for i in range(len(rows))]


def counts_digest(counts):
    """sha256 (16 hex digits) of the per-class counts as int64."""
    return hashlib.sha256(torch.as_tensor(counts).long().cpu().flatten()
                          .numpy().tobytes()).hexdigest()[:16]


def _rows_mismatch(data):
    """Why the rows (or counts) of ``data`` differ from their recorded
    digests (None when they match)."""
    recorded = data.get('row_digests')
    if not isinstance(recorded, (list, tuple)):
        return ('it records no row digests (made by hand or by an older '
                'nd_mmdet), so its rows cannot be checked; recompute it '
                '(tools/compute_class_centers.py)')
    actual = row_digests(data['centers'])
    if list(recorded) != actual:
        home = {digest: i for i, digest in enumerate(recorded)}
        wrong = [i for i, d in enumerate(actual) if d != recorded[i]]
        moved = [f'row {i} holds the centre of class {home[actual[i]]}'
                 for i in wrong if actual[i] in home][:5]
        edited = [i for i in wrong if actual[i] not in home]
        parts = ([', '.join(moved) + ' (rows permuted)'] if moved else []) \
            + ([f'rows {edited[:20]} were changed'] if edited else [])
        return (f'its rows do not match the digests recorded when it was '
                f'written: {"; ".join(parts)}')
    counts = data.get('counts')
    if counts is not None and data.get('counts_digest') != \
            counts_digest(counts):
        return ('its per-class counts do not match the digest recorded '
                'when it was written (changed afterwards)')
    return None


def save_class_centers(path, centers, counts, teacher_digest,
                       dataset=None, max_iters=None):
    """Write a centre file atomically (temporary file + rename): a kill or
    a full disk leaves the old file or none, never a truncated one.

    Args:
        centers (Tensor): (K, D) centres; counts (Tensor): (K,) samples.
        teacher_digest (str): see :func:`nd_mmdet.utils.file_digest`.
        dataset (dict, optional): :func:`dataset_identity` of the data.
        max_iters (int, optional): pre-pass length limit it was made with.
    """
    import io

    from nd_mmdet.compat import atomic_write_bytes
    buffer = io.BytesIO()
    torch.save(
        dict(
            format_version=FORMAT_VERSION,
            centers=centers,
            counts=counts,
            num_classes=int(centers.shape[0]),
            dim=int(centers.shape[1]),
            teacher_digest=str(teacher_digest),
            dataset=dict(dataset) if dataset else None,
            max_iters=max_iters,
            row_digests=row_digests(centers),
            counts_digest=counts_digest(counts)), buffer)
    atomic_write_bytes(buffer.getvalue(), path)


def centers_mismatch(data, num_classes, dim, teacher_digest=None,
                     dataset=None, max_iters=False):
    """Why the centre file content ``data`` does not fit the current run,
    or None. ``dataset`` is compared when given and recorded in the file;
    ``max_iters`` (``False`` skips it) only matters for a file with classes
    that had no samples: a longer pre-pass may fill them."""
    centers = data.get('centers')
    if not torch.is_tensor(centers) or centers.dim() != 2:
        return 'it holds no (K, D) "centers" tensor'
    if tuple(centers.shape) != (num_classes, dim):
        return (f'it holds centres of shape {tuple(centers.shape)}, but the '
                f'teacher gives {num_classes} classes x {dim}-d embeddings')
    bad = (~torch.isfinite(centers).all(dim=1)).nonzero().flatten()
    if bad.numel():
        return (f'it holds non-finite centres for classes '
                f'{bad.tolist()[:20]} (from a failed run)')
    saved = data.get('teacher_digest')
    if teacher_digest is not None and saved is not None and \
            saved != teacher_digest:
        return (f'it was computed from another teacher checkpoint (digest '
                f'{saved}, current teacher {teacher_digest})')
    rows = _rows_mismatch(data)
    if rows:
        return rows
    recorded = data.get('dataset')
    if dataset is not None and recorded and recorded != dict(dataset):
        return (f'it was computed on another dataset ({_describe(recorded)}'
                f'; the training data is {_describe(dataset)})')
    counts = data.get('counts')
    empty = [] if counts is None else \
        (torch.as_tensor(counts) == 0).nonzero().flatten().tolist()
    if max_iters is not False and empty and \
            data.get('max_iters', -1) != max_iters:
        return (f'classes {empty[:20]} had no samples in its pre-pass '
                f'(max_iters={data.get("max_iters", "unknown")}); the config '
                f'now says max_iters={max_iters}')
    return None


def _describe(identity):
    return (f'{identity.get("type")} of {identity.get("length")} samples, '
            f'digest {identity.get("digest")}')


def load_class_centers(path, num_classes, dim, teacher_digest=None,
                       dataset=None):
    """Load and check a centre file; returns ``centers (K, D)``.

    Raises:
        ValueError: naming ``path`` and the reason, when it is unreadable,
            has the wrong K or D, holds non-finite rows, or was made from
            another teacher checkpoint or dataset.
    """
    centers, _ = _load_checked(path, num_classes, dim, teacher_digest,
                               dataset)
    return centers


def _load_checked(path, num_classes, dim, teacher_digest=None, dataset=None,
                  max_iters=False):
    data = safe_torch_load(path, 'class-centre file')
    if not isinstance(data, dict):
        raise ValueError(f'class-centre file {path} holds no dict')
    reason = centers_mismatch(data, num_classes, dim, teacher_digest,
                              dataset, max_iters)
    if reason:
        raise ValueError(f'class-centre file {path}: {reason}; delete it '
                         'or point to the right file to recompute')
    return data['centers'].float(), data.get('counts')


def _compute_and_save(distiller, dataloader, save_path, max_iters, logger,
                      identity, why):
    num_classes, dim = distiller.expected_centers_shape()
    batches = prepass_length(dataloader, max_iters)
    logger.info(
        f'class centres: {why}; computing {num_classes} x {dim} teacher '
        f'centres over {batches} batches of the training data' +
        (' (one pass)' if batches == len(dataloader)
         else f' (max_iters={max_iters})'))
    centers, counts = compute_class_centers(distiller, dataloader, max_iters)
    bad = (~torch.isfinite(centers).all(dim=1)).nonzero().flatten().tolist()
    if bad:
        raise ValueError(
            f'class-centre pre-pass: the teacher gave non-finite embeddings '
            f'for classes {bad[:20]}; nothing was saved to {save_path}. '
            'Check the teacher checkpoint (model.teacher_ckpt)')
    empty = (counts == 0).nonzero().flatten().tolist()
    if len(empty) == num_classes:
        min_size = getattr(distiller, 'box_min_size', None)
        raise ValueError(
            f'class-centre pre-pass: no ND row in {batches} batches (every '
            'class has 0 samples), so ND would be 0 at every iteration; '
            'nothing was saved to ' + save_path +
            (f'. ND at ground-truth boxes drops boxes narrower or lower than'
             f' box_min_size={min_size} px: check it against the boxes'
             if min_size is not None else ''))
    if empty:
        logger.warning(f'class centres: classes {empty[:20]} had no samples'
                       f' in the pre-pass; their centres are 0: a training '
                       'batch with ND rows of these classes stops with an '
                       'error (raise ClassCentersHook max_iters); rows '
                       'dropped before ND (e.g. boxes below box_min_size) '
                       'give no ND and are not reported here')
    if dist.is_main_process():
        save_class_centers(save_path, centers, counts,
                           distiller.teacher_digest, identity, max_iters)
        logger.info(f'class centres: saved to {save_path}')
    return centers, counts


def prepare_class_centers(distiller, dataloader, centers_file, save_path,
                          max_iters=None, logger=None):
    """Install the teacher class centres into the distiller.

    ``centers_file`` (given by the user) is loaded when it exists and must
    fit this run (shape, finite, teacher, dataset): otherwise the run stops
    with an error naming it. Else the run's own cache ``save_path`` is
    loaded when it fits (also the pre-pass length); when it does not, or
    does not exist, the centres are computed and ``save_path`` is
    (re)written atomically.
    """
    logger = logger or MMLogger.get_current_instance()
    num_classes, dim = distiller.expected_centers_shape()
    digest = distiller.teacher_digest
    dataset = getattr(dataloader, 'dataset', None)
    identity = None if dataset is None else dataset_identity(dataset)
    if centers_file and osp.isfile(centers_file):
        logger.info(f'class centres: loading {centers_file}')
        centers, counts = _load_checked(centers_file, num_classes, dim,
                                        digest, identity)
        distiller.set_class_centers(centers, counts, centers_file)
        return centers
    why = f'{centers_file or save_path} not found'
    if osp.isfile(save_path):
        try:
            data = safe_torch_load(save_path, 'class-centre file')
            reason = centers_mismatch(data, num_classes, dim, digest,
                                      identity, max_iters) \
                if isinstance(data, dict) else 'it holds no dict'
        except ValueError as err:
            reason = str(err)
        if reason is None:
            logger.info(f'class centres: loading {save_path}')
            centers = data['centers'].float()
            distiller.set_class_centers(centers, data.get('counts'),
                                        save_path)
            return centers
        why = f'{save_path} does not fit this run ({reason})'
        logger.warning(f'class centres: {why}; it is recomputed')
    centers, counts = _compute_and_save(distiller, dataloader, save_path,
                                        max_iters, logger, identity, why)
    distiller.set_class_centers(centers, counts, save_path)
    return centers
