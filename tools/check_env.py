"""Smoke check of the stack on a device: one training iteration of each
distiller kind, compared with the same iteration on the CPU.

    python tools/check_env.py                  # CUDA (skipped cleanly without)
    python tools/check_env.py --device cpu     # the CPU half only
    python tools/check_env.py --kinds neck dense --no-amp

Kinds (the demo configs' tiny models, a random teacher checkpoint written
to a temporary folder, a synthetic batch; no data set needed):

- ``classification``: configs/demo/kd++_resnet8-resnet8thin_fmnist-2k.py
  (ClassificationDistiller, KD + ND);
- ``two-stage``: configs/demo/two_stage/kd++_faster-rcnn_w32-w8_fmnist-det-1k.py
  (TwoStageDistiller, KD + ND on RoIs: mmcv's RoIAlign and NMS);
- ``dense``: configs/demo/dense/kd++_retinanet_r18w32-r18w8_fmnist-det-1k.py
  (DenseDistiller, binary KD + ND);
- ``neck``: configs/demo/dense/pkd++_retinanet_r18w32-r18w8_fmnist-det-1k.py
  (NeckDistiller, PKD + ND at the ground-truth boxes).

For each kind, the reference is one iteration (data preprocessor, losses,
backward, SGD step) on the CPU in float32. On the device the same model
(same weights, class centres and batch, the same seed before the
iteration: MMDetection's samplers draw on the CPU) must give every loss
within ``rtol 1e-3 / atol 1e-4`` (TF32 off), and with AMP (``torch.autocast``
float16 through mmengine's ``AmpOptimWrapper``) within ``rtol 0.1 / atol
0.02`` (half-precision proposals and scores may move a few samples). Each
run also checks that the teacher is on the device, in eval mode and frozen,
and that the student got gradients; on CUDA the peak memory of the
iteration is printed. mmcv's ``nms`` and ``roi_align`` are run on the device
and compared with the CPU first (a CPU-only mmcv fails here).

On the CPU (``--device cpu``, or no CUDA device: the device half is then
skipped with one line) the reference is run twice and must be identical:
the comparison on a device relies on it. Exit 0: every check passed (or was
skipped for want of a device); 1: a check failed (each is named).
"""
import argparse
import math
import os.path as osp
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import nd_mmdet  # noqa: E402,F401  (nd_mmdet.compat before torchvision)

#: kind -> config (relative to the folder holding configs/ and tools/)
KINDS = {
    'classification': 'configs/demo/kd++_resnet8-resnet8thin_fmnist-2k.py',
    'two-stage':
    'configs/demo/two_stage/kd++_faster-rcnn_w32-w8_fmnist-det-1k.py',
    'dense': 'configs/demo/dense/kd++_retinanet_r18w32-r18w8_fmnist-det-1k.py',
    'neck': 'configs/demo/dense/pkd++_retinanet_r18w32-r18w8_fmnist-det-1k.py',
}
#: (rtol, atol) of a device's losses against the CPU's
FP32_TOL = (1e-3, 1e-4)
AMP_TOL = (0.1, 0.02)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='One training iteration of each distiller kind on a '
        'device, compared with the CPU')
    parser.add_argument('--device', default='cuda',
                        help="device to check (default 'cuda'; 'cpu' runs "
                        'the CPU half only)')
    parser.add_argument('--kinds', nargs='+', choices=sorted(KINDS),
                        default=list(KINDS), help='distiller kinds')
    parser.add_argument('--no-amp', action='store_true',
                        help='skip the AMP runs on CUDA')
    return parser.parse_args(argv)


def close(got, want, rtol, atol):
    """``|got - want| <= atol + rtol * |want|`` and both finite."""
    return math.isfinite(got) and math.isfinite(want) and \
        abs(got - want) <= atol + rtol * abs(want)


def compare_losses(got, want, tol):
    """Names of the losses of ``want`` (the CPU's) that ``got`` lacks or
    misses by more than ``tol = (rtol, atol)``."""
    return [name for name, value in want.items()
            if name not in got or not close(got[name], value, *tol)]


def build_distiller(kind, workdir):
    """``(distiller on the CPU, its batch)`` of ``kind``: the config's
    models, a random teacher checkpoint (written once per kind into
    ``workdir``), random class centres; the same weights at every call.
    (A fresh build per run, not a deep copy: a copy's forward hooks would
    still record into the original's recorders.)"""
    import numpy as np
    import torch

    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils.entrypoint import load_config
    from nd_mmdet.utils.model_spec import distiller_part_config
    cfg = load_config(osp.join(ROOT, KINDS[kind]))
    ckpt = osp.join(workdir, f'{kind}_teacher.pth')
    if not osp.isfile(ckpt):
        torch.manual_seed(1)
        teacher = MODELS.build(distiller_part_config(cfg.model, 'teacher'))
        torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg.model.teacher_ckpt = ckpt
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if getattr(model, 'needs_class_centers', False):
        gen = torch.Generator().manual_seed(2)
        model.set_class_centers(
            torch.rand(*model.expected_centers_shape(), generator=gen) + 0.1)
    np.random.seed(0)
    if kind == 'classification':
        from mmpretrain.structures import DataSample
        gen = torch.Generator().manual_seed(3)
        batch = dict(
            inputs=[torch.randint(0, 256, (3, 28, 28), generator=gen,
                                  dtype=torch.uint8) for _ in range(8)],
            data_samples=[DataSample().set_gt_label(i % 10)
                          for i in range(8)])
    else:
        from mmdet.testing import demo_mm_inputs
        batch = demo_mm_inputs(batch_size=2, image_shapes=(3, 64, 64),
                               num_items=[3, 2], num_classes=10)
    return model, batch


def one_iteration(kind, workdir, device, amp=False):
    """One training iteration of :func:`build_distiller`'s model on
    ``device``; returns ``(losses, problems, peak MiB or None)``."""
    import torch
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    model, batch = build_distiller(kind, workdir)
    model.to(device)
    model.train()
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01)
    wrapper = AmpOptimWrapper(optimizer=optimizer, dtype='float16') \
        if amp else OptimWrapper(optimizer=optimizer)
    cuda = torch.device(device).type == 'cuda'
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = [p.detach().clone() for p in model.student.parameters()]
    torch.manual_seed(4)
    log_vars = model.train_step(batch, wrapper)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    losses = {k: float(v.detach() if torch.is_tensor(v) else v)
              for k, v in log_vars.items() if k.startswith('loss')}
    problems = []
    teacher = model.teacher
    if any(p.device.type != torch.device(device).type
           for p in teacher.parameters()):
        problems.append(f'teacher not on {device}')
    if teacher.training:
        problems.append('teacher in training mode')
    if any(p.requires_grad for p in teacher.parameters()):
        problems.append('teacher parameters require grad')
    if all(torch.equal(a, b.detach())
           for a, b in zip(before, model.student.parameters())):
        problems.append('the step did not change the student')
    return losses, problems, peak


def check_mmcv_ops(device):
    """mmcv's nms and roi_align on ``device`` equal the CPU's; returns the
    problems found."""
    import torch
    from mmcv.ops import nms, roi_align
    gen = torch.Generator().manual_seed(5)
    xy = torch.rand(50, 2, generator=gen) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(50, 2, generator=gen) * 20],
                      1)
    scores = torch.rand(50, generator=gen)
    feats = torch.rand(2, 4, 16, 16, generator=gen)
    rois = torch.tensor([[0, 1., 1., 9., 7.], [1, 2., 3., 15., 12.]])
    problems = []
    try:
        _, keep_cpu = nms(boxes, scores, 0.5)
        _, keep_dev = nms(boxes.to(device), scores.to(device), 0.5)
        if not torch.equal(keep_cpu, keep_dev.cpu()):
            problems.append('nms keeps other boxes than on the CPU')
        pooled_cpu = roi_align(feats, rois, (3, 3), 0.5, 2)
        pooled_dev = roi_align(feats.to(device), rois.to(device), (3, 3),
                               0.5, 2)
        if not torch.allclose(pooled_cpu, pooled_dev.cpu(), atol=1e-5):
            problems.append('roi_align differs from the CPU')
    except (RuntimeError, NotImplementedError) as err:
        problems.append(f'mmcv ops fail on {device}: '
                        f'{str(err).splitlines()[0]}')
    return problems


def environment_line():
    import mmcv
    import torch
    from mmcv.ops import get_compiling_cuda_version
    gpus = [torch.cuda.get_device_name(i)
            for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    return (f'torch {torch.__version__} (CUDA {torch.version.cuda}), mmcv '
            f'{mmcv.__version__} (ops compiled with CUDA '
            f'{get_compiling_cuda_version()}), devices: {gpus or "none"}')


def run(args, out=print):
    """The checks; returns the number of failures."""
    import torch
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    out(f'check_env: {environment_line()}')
    device = args.device
    on_device = torch.device(device).type != 'cpu'
    if on_device and torch.device(device).type == 'cuda' and \
            not torch.cuda.is_available():
        out(f'check_env: skipped {device}: no CUDA device '
            '(torch.cuda.is_available() is False); the CPU half follows')
        on_device = False
    failures = 0
    if on_device:
        problems = check_mmcv_ops(device)
        failures += bool(problems)
        out(f'mmcv ops on {device}: ' + ('; '.join(problems) or 'ok'))
    with tempfile.TemporaryDirectory(prefix='nd_mmdet_check_env_') as tmp:
        for kind in args.kinds:
            reference, problems, _ = one_iteration(kind, tmp, 'cpu')
            if problems:
                failures += 1
                out(f'{kind} [cpu reference]: FAIL: ' + '; '.join(problems))
            runs = [('cpu', False)] if not on_device else \
                [(device, False)] + ([] if args.no_amp or
                                     torch.device(device).type != 'cuda'
                                     else [(device, True)])
            for run_device, amp in runs:
                losses, found, peak = one_iteration(kind, tmp, run_device,
                                                    amp)
                tol = FP32_TOL if not amp else AMP_TOL
                if run_device == 'cpu':
                    tol = (0.0, 0.0)  # the same run twice: identical
                missed = compare_losses(losses, reference, tol)
                found = found + [
                    f'{name} {losses.get(name, math.nan):.6g} vs CPU '
                    f'{reference[name]:.6g}' for name in missed]
                failures += bool(found)
                mode = f'{run_device}{" amp" if amp else ""}'
                memory = f', peak {peak:.0f} MiB' if peak is not None else ''
                out(f'{kind} [{mode}]: loss {losses.get("loss", math.nan):.6g}'
                    f' (CPU {reference.get("loss", math.nan):.6g}), '
                    f'{len(reference)} losses{memory}: '
                    + ('FAIL: ' + '; '.join(found) if found else 'ok'))
    out('check_env: ' + ('all checks passed' if not failures else
                         f'{failures} checks failed'))
    return failures


def main(argv=None):
    return 1 if run(parse_args(argv)) else 0


if __name__ == '__main__':
    sys.exit(main())
