"""Cost of a distillation step against its unavoidable parts.

    python benchmarks/bench_distill_step.py [--task cls] [--steps 10]

For a task (``cls``: CIFAR-100 ResNet-32x4 -> ResNet-8x4 KD++, batch 64;
``det``: Faster R-CNN FPN ResNet-50 -> ResNet-18 KD++ on RoIs, 2 images of
``--det-size`` px, 512 sampled RoIs each; ``dense``: RetinaNet FPN
ResNet-50 -> ResNet-18 KD++ (binary KD at the student's positive anchors
and 64 sampled negatives per image, ND at the positives), 2 images of
``--det-size`` px), measures in one run, interleaved
so that machine noise hits both alike:

- A: one distillation training step (distiller loss, backward, SGD step);
- B: the student's own training step (its loss, backward, SGD step) plus
  the teacher forward of only the parts that the losses read, under no_grad
  (classification: backbone + neck + head; detection: backbone + FPN + the
  box head on the student's sampled RoIs, recorded once from A; dense:
  backbone + FPN + the head's classification branch on every level).

It prints the median times and the ratio A / B (goal <= 1.05), then the
peak-memory ratio (goal <= 1.10), each variant in a fresh subprocess: the
peak resident memory during the steps (sampled every millisecond) minus the
resident memory after the models were built (CPU), or the growth of
``torch.cuda.max_memory_allocated`` (GPU).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import nd_mmdet  # noqa: E402,F401

CLS_STUDENT = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.CifarResNet', arch='resnet8x4'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=256,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
CLS_TEACHER = dict(CLS_STUDENT, backbone=dict(type='nd_mmdet.CifarResNet',
                                              arch='resnet32x4'))


def build_cls(workdir, device):
    from mmpretrain.structures import DataSample

    from nd_mmdet.models.distillers import ClassificationDistiller
    from nd_mmdet.utils import build_model_from_spec
    teacher = build_model_from_spec(CLS_TEACHER)
    ckpt = osp.join(workdir, 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    distiller = ClassificationDistiller(
        student=CLS_STUDENT, teacher=CLS_TEACHER, teacher_ckpt=ckpt,
        distill_losses=dict(
            loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=3.5),
            loss_nd=dict(type='NDLoss', loss_weight=2.0))).to(device)
    distiller.set_class_centers(torch.rand(100, 256) + 0.1)
    distiller.train()
    inputs = torch.randn(64, 3, 32, 32, device=device)
    samples = [DataSample().set_gt_label(i % 100) for i in range(64)]
    return distiller, inputs, samples


#: task -> (distiller, student config, distillation losses)
DETECTION = dict(
    det=('TwoStageDistiller',
         'configs/coco/faster_rcnn/faster-rcnn_r18_fpn_ms-1x_coco.py',
         dict(loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=1.0),
              loss_nd=dict(type='NDLoss', loss_weight=1.5))),
    dense=('DenseDistiller',
           'configs/coco/dense/retinanet/retinanet_r18_fpn_1x_coco.py',
           dict(loss_kd=dict(type='BinaryKDLoss', temperature=1.0,
                             loss_weight=1.0),
                loss_nd=dict(type='NDLoss', loss_weight=1.0))),
)
#: task -> other distiller arguments (those of the repository's configs)
DISTILLER_OPTIONS = dict(det={}, dense=dict(kd_at_negatives=True))


def build_det(workdir, device, size, task):
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config

    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import build_model_from_spec
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    distiller_type, student_config, losses = DETECTION[task]

    def detector(depth):
        model = Config.fromfile(osp.join(repo, student_config)).model
        model.backbone.update(depth=depth, init_cfg=None)
        model.neck.in_channels = [64, 128, 256, 512] if depth == 18 else \
            [256, 512, 1024, 2048]
        model['_scope_'] = 'mmdet'
        return model

    teacher = build_model_from_spec(detector(50))
    ckpt = osp.join(workdir, 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    distiller = MODELS.build(dict(
        type=distiller_type, student=detector(18), teacher=detector(50),
        teacher_ckpt=ckpt, distill_losses=losses,
        **DISTILLER_OPTIONS[task])).to(device)
    distiller.set_class_centers(
        torch.rand(*distiller.expected_centers_shape()) + 0.1)
    distiller.train()
    data = distiller.data_preprocessor(
        demo_mm_inputs(2, (3, size, size), num_items=[5, 5],
                       num_classes=80), True)
    return distiller, data['inputs'], data['data_samples']


def steps(distiller, inputs, samples):
    """The two variants as callables sharing one model."""
    student, teacher = distiller.student, distiller.teacher
    opt_a = torch.optim.SGD(distiller.parameters(), lr=1e-4)
    opt_b = torch.optim.SGD(student.parameters(), lr=1e-4)

    def distill_step():
        loss, _ = distiller.parse_losses(distiller.loss(inputs, samples))
        opt_a.zero_grad()
        loss.backward()
        opt_a.step()

    if hasattr(teacher, 'bbox_head'):  # dense: the classification branch

        def teacher_parts():
            head = teacher.bbox_head
            for x in teacher.extract_feat(inputs):
                for conv in head.cls_convs:
                    x = conv(x)
                head.retina_cls(x)
    elif hasattr(teacher, 'roi_head'):
        # The student's sampled RoIs of one step, for B's teacher box head.
        _, values = distiller.forward_distill(inputs, samples)
        rois = values['rois'].detach()

        def teacher_parts():
            feats = teacher.extract_feat(inputs)
            teacher.roi_head._bbox_forward(feats, rois)
    else:

        def teacher_parts():  # KD reads logits: backbone + neck + head
            teacher(inputs, mode='tensor')

    def student_plus_teacher_parts():
        loss, _ = student.parse_losses(student.loss(inputs, samples))
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
        with torch.no_grad():
            teacher_parts()

    return dict(A=distill_step, B=student_plus_teacher_parts)


def build(args, workdir, device):
    if args.task in DETECTION:
        return build_det(workdir, device, args.det_size, args.task)
    return build_cls(workdir, device)


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_run(args, device):
    with tempfile.TemporaryDirectory() as workdir:
        variants = steps(*build(args, workdir, device))
        for fn in variants.values():  # warm-up
            fn()
        times = {k: [] for k in variants}
        for _ in range(args.steps):
            for name, fn in variants.items():
                sync(device)
                start = time.perf_counter()
                fn()
                sync(device)
                times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


class PeakRSS:
    """Samples the resident memory every millisecond in a thread (the
    process-wide ``ru_maxrss`` would include the model build's peak)."""

    def __enter__(self):
        self.peak, self._stop = rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def memory_run(args, device, variant):
    """Peak memory of one variant's steps (run in its own process)."""
    with tempfile.TemporaryDirectory() as workdir:
        fn = steps(*build(args, workdir, device))[variant]
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            for _ in range(3):
                fn()
            return (torch.cuda.max_memory_allocated() - base) / 2**20
        base = rss_mb()
        with PeakRSS() as peak:
            for _ in range(3):
                fn()
        return peak.peak - base


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', choices=['cls', 'det', 'dense'],
                        default='cls')
    parser.add_argument('--det-size', type=int, default=320)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--memory-variant', choices=['A', 'B'],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if args.memory_variant:
        print(json.dumps(memory_run(args, device, args.memory_variant)))
        return
    med = time_run(args, device)
    print(f'task {args.task} on {device} ({args.threads} thread(s)), median '
          f'of {args.steps} interleaved steps')
    print(f'  A distillation step              : {med["A"] * 1e3:9.1f} ms')
    print(f'  B student step + teacher parts   : {med["B"] * 1e3:9.1f} ms')
    print(f'  time ratio A / B                 : {med["A"] / med["B"]:9.3f}'
          '   (goal <= 1.05)')
    peaks = {}
    for variant in 'AB':
        out = subprocess.run(
            [sys.executable, __file__, '--task', args.task, '--det-size',
             str(args.det_size), '--device',
             args.device, '--threads', str(args.threads),
             '--memory-variant', variant],
            check=True, stdout=subprocess.PIPE, text=True).stdout
        peaks[variant] = json.loads(out.strip().splitlines()[-1])
    print(f'  peak memory A / B                : {peaks["A"]:.0f} MB / '
          f'{peaks["B"]:.0f} MB = {peaks["A"] / peaks["B"]:.3f}'
          '   (goal <= 1.10)')


if __name__ == '__main__':
    main()
