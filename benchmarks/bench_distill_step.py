"""Cost of a distillation step against its unavoidable parts.

    OMP_NUM_THREADS=1 python benchmarks/bench_distill_step.py [--task cls]
        [--steps 10] [--repeats 5] [--json out.json]

For a task (``cls``: CIFAR-100 ResNet-32x4 -> ResNet-8x4 KD++, batch 64;
``det``: Faster R-CNN FPN ResNet-50 -> ResNet-18 KD++ on RoIs, 2 images of
``--det-size`` px, 512 sampled RoIs each; ``dense``: RetinaNet FPN
ResNet-50 -> ResNet-18 KD++ (binary KD at the student's positive anchors
and 64 sampled negatives per image, ND at the positives), 2 images of
``--det-size`` px; ``neck``: RetinaNet R50 -> R18 PKD on the stride-matched
FPN levels; ``neck_nd``: the same + ND at the ground-truth boxes;
``neck_hetero``: a Faster R-CNN R50 teacher -> RetinaNet R18 student, PKD
on the shared strides 8-64), compares two variants:

- A: one distillation training step (distiller loss, backward, SGD step);
- B: the student's own training step (its loss, backward, SGD step) plus
  the teacher forward of only the parts that the losses read, under no_grad
  (classification: backbone + neck + head; detection: backbone + FPN + the
  box head on the student's sampled RoIs, recorded once from A; dense:
  backbone + FPN + the head's classification branch on every level; neck:
  backbone + FPN, on the teacher's normalisation of the batch).

Time (goal: ratio A / B <= 1.05): after one warm-up step of each, ``--steps``
rounds in one process, each round timing one A step and one B step back to
back (A first in even rounds, B first in odd ones); the ratio is computed
per round and summarised by its median, interquartile range and range.

Peak memory (goal: ratio A / B <= 1.10): ``--repeats`` pairs of fresh
subprocesses, one per variant, interleaved (A B, B A, A B, ...); each builds
the models and then measures, over ``--memory-steps`` steps,

- ``tensor``: the peak of the bytes held by live tensors above those held
  after the build (CPU: the allocation events of
  ``torch.profiler.profile(profile_memory=True)``; GPU: the growth of
  ``torch.cuda.max_memory_allocated``). It does not depend on the C
  allocator, so it repeats to the byte; it is the memory the goal is about;
- ``rss`` (CPU only): the peak resident memory (``VmHWM`` after resetting
  it through ``/proc/self/clear_refs``; a 1 ms sampling thread where that
  is not available) minus the resident memory after the build, with
  :data:`MEMORY_ENV` set for glibc malloc in both variants alike.

The ratio of each pair is summarised by its median and range.
"""
import argparse
import gc
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402

import nd_mmdet  # noqa: E402,F401
from _bench_stats import (format_ratio, paired_ratios, round_order,  # noqa
                          summarize)

#: glibc malloc settings of the memory subprocesses (both variants alike):
#: one arena, no top padding, and a fixed 64 KiB mmap / trim threshold, so
#: that every block but the small ones is mapped on allocation and unmapped
#: on release and the resident memory follows the live tensors (glibc's own
#: threshold grows up to 32 MiB as large blocks are freed, and the blocks
#: below it then come from a heap whose freed pages stay resident or not
#: depending on the order of the frees: on Faster R-CNN the peak moved by
#: up to 90 MB between identical runs; with these, by ~1 MB).
MEMORY_ENV = dict(MALLOC_ARENA_MAX='1', MALLOC_TOP_PAD_='0',
                  MALLOC_MMAP_THRESHOLD_='65536',
                  MALLOC_TRIM_THRESHOLD_='65536')

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
RETINANET = 'configs/coco/dense/retinanet/retinanet_r18_fpn_1x_coco.py'
PKD = dict(loss_pkd=dict(type='PKDLoss', loss_weight=1.0))
DETECTION.update(
    # neck level: PKD on the stride-matched FPN levels (RetinaNet: P3-P7)
    neck=('NeckDistiller', RETINANET, PKD),
    # + ND at the ground-truth boxes (256-d on both sides)
    neck_nd=('NeckDistiller', RETINANET,
             dict(PKD, loss_nd=dict(type='NDLoss', loss_weight=1.0))),
    # heterogeneous: a Faster R-CNN teacher (P2-P6) -> RetinaNet (P3-P7),
    # paired on strides 8-64
    neck_hetero=('NeckDistiller', RETINANET, PKD),
)
#: task -> the teacher's config when it is not the student's
TEACHER_CONFIGS = dict(
    neck_hetero='configs/coco/faster_rcnn/faster-rcnn_r18_fpn_ms-1x_coco.py')
#: task -> other distiller arguments (those of the repository's configs)
DISTILLER_OPTIONS = dict(det={}, dense=dict(kd_at_negatives=True), neck={},
                         neck_nd={}, neck_hetero={})


def build_det(workdir, device, size, task):
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config

    from nd_mmdet.registry import MODELS
    from nd_mmdet.utils import build_model_from_spec
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    distiller_type, student_config, losses = DETECTION[task]

    def detector(depth, config=student_config):
        model = Config.fromfile(osp.join(repo, config)).model
        model.backbone.update(depth=depth, init_cfg=None)
        model.neck.in_channels = [64, 128, 256, 512] if depth == 18 else \
            [256, 512, 1024, 2048]
        model['_scope_'] = 'mmdet'
        return model

    teacher_cfg = detector(50, TEACHER_CONFIGS.get(task, student_config))
    teacher = build_model_from_spec(teacher_cfg)
    ckpt = osp.join(workdir, 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    distiller = MODELS.build(dict(
        type=distiller_type, student=detector(18), teacher=teacher_cfg,
        teacher_ckpt=ckpt, distill_losses=losses,
        **DISTILLER_OPTIONS[task])).to(device)
    if distiller.needs_class_centers:
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

    if type(distiller).__name__ == 'NeckDistiller':

        def teacher_parts():  # backbone + neck, on its own normalisation
            teacher.extract_feat(distiller.teacher_input(inputs, samples))
    elif hasattr(teacher, 'bbox_head'):  # dense: the classification branch

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
    """Seconds per step of each variant, ``args.steps`` interleaved
    rounds (index i of both lists = round i)."""
    with tempfile.TemporaryDirectory() as workdir:
        variants = steps(*build(args, workdir, device))
        for fn in variants.values():  # warm-up
            fn()
        times = {k: [] for k in variants}
        for i in range(args.steps):
            for name in round_order(variants, i):
                sync(device)
                start = time.perf_counter()
                variants[name]()
                sync(device)
                times[name].append(time.perf_counter() - start)
    return times


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def _reset_peak_rss():
    """Reset ``VmHWM`` to the current resident memory (Linux >= 4.0);
    False where that is not possible or had no effect."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return _hwm_mb() <= rss_mb() + 1
    except (OSError, RuntimeError):
        return False


def _hwm_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 2**10
    raise RuntimeError('no VmHWM in /proc/self/status')


class PeakRSS:
    """Peak resident memory of a block: ``VmHWM`` reset on entry (the
    process-wide peak would include the model build's), or, where it cannot
    be reset, the resident memory sampled every millisecond in a thread
    (which can miss a short peak)."""

    def __enter__(self):
        self.peak = rss_mb()
        self.exact = _reset_peak_rss()
        if not self.exact:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.001)

    def __exit__(self, *exc):
        if self.exact:
            self.peak = _hwm_mb()
        else:
            self._stop.set()
            self._thread.join()


def tensor_peak_mb(fn, repeats):
    """Peak of the bytes held by tensors allocated while ``repeats`` calls
    of ``fn`` run, from the CPU allocator's events recorded by the
    profiler (a tensor allocated before is counted neither when held nor
    when freed), or None where the event tree is not available."""
    from torch.profiler import ProfilerActivity, profile
    try:
        from torch._C._profiler import _EventType
    except ImportError:
        return None
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        for _ in range(repeats):
            fn()
    events = []
    stack = list(p.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    live = peak = 0
    for _, size in sorted(events, key=lambda e: e[0]):
        live += size
        peak = max(peak, live)
    return peak / 2**20


def memory_run(args, device, variant):
    """Peak memory of one variant's steps (run in its own process), in MB:
    ``dict(tensor=..., rss=...)`` (``rss`` None on GPU)."""
    with tempfile.TemporaryDirectory() as workdir:
        distiller, inputs, samples = build(args, workdir, device)
        fn = steps(distiller, inputs, samples)[variant]
        gc.collect()
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            for _ in range(args.memory_steps):
                fn()
            return dict(tensor=(torch.cuda.max_memory_allocated() - base) /
                        2**20, rss=None)
        base = rss_mb()
        with PeakRSS() as peak:
            for _ in range(args.memory_steps):
                fn()
        rss = peak.peak - base
        # The same steps again from no gradients, as after the build.
        distiller.zero_grad(set_to_none=True)
        gc.collect()
        tensor = tensor_peak_mb(fn, args.memory_steps)
    return dict(tensor=tensor, rss=rss)


def memory_subprocess(args, variant):
    cmd = [sys.executable, __file__, '--task', args.task, '--det-size',
           str(args.det_size), '--device', args.device, '--threads',
           str(args.threads), '--memory-steps', str(args.memory_steps),
           '--memory-variant', variant]
    env = dict(os.environ, **MEMORY_ENV) if args.device == 'cpu' else None
    # stderr is kept for errors only (the profiler logs its start and stop)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    if out.returncode:
        sys.stderr.write(out.stderr)
        out.check_returncode()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', choices=['cls', *DETECTION],
                        default='cls')
    parser.add_argument('--det-size', type=int, default=320)
    parser.add_argument('--steps', type=int, default=10,
                        help='interleaved timing rounds')
    parser.add_argument('--repeats', type=int, default=5,
                        help='fresh-process pairs for the peak memory')
    parser.add_argument('--memory-steps', type=int, default=3,
                        help='steps per memory measurement')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    parser.add_argument('--json', metavar='PATH',
                        help='also write every measurement to this file')
    parser.add_argument('--memory-variant', choices=['A', 'B'],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1 or args.memory_steps < 1:
        parser.error('--steps, --repeats and --memory-steps must be >= 1')
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if args.memory_variant:
        print(json.dumps(memory_run(args, device, args.memory_variant)))
        return

    times = time_run(args, device)
    time_ratio = summarize(paired_ratios(times['A'], times['B']))
    print(f'task {args.task} on {device} ({args.threads} thread(s))')
    print(f'time, {args.steps} interleaved rounds (median ms per step):')
    print(f'  A distillation step            : '
          f'{summarize(times["A"]).median * 1e3:9.1f} ms')
    print(f'  B student step + teacher parts : '
          f'{summarize(times["B"]).median * 1e3:9.1f} ms')
    print(f'  time ratio A / B per round     : {format_ratio(time_ratio)}'
          '   (goal: median <= 1.05)', flush=True)

    peaks = {'A': [], 'B': []}
    for i in range(args.repeats):
        for variant in round_order('AB', i):
            peaks[variant].append(memory_subprocess(args, variant))
    measures = ['tensor'] + (['rss'] if args.device == 'cpu' else [])
    memory = {}
    print(f'peak memory, {args.repeats} pairs of fresh processes, '
          f'{args.memory_steps} steps each (MB; A / B per pair):')
    for measure in measures:
        a = [p[measure] for p in peaks['A']]
        b = [p[measure] for p in peaks['B']]
        if None in a or None in b:
            print(f'  {measure:6s}: not available')
            continue
        memory[measure] = summarize(paired_ratios(a, b))
        label = dict(tensor='live tensors', rss='resident')[measure]
        print(f'  {label:12s} A {summarize(a).median:6.1f} '
              f'[{min(a):.1f}-{max(a):.1f}]  B {summarize(b).median:6.1f} '
              f'[{min(b):.1f}-{max(b):.1f}]  ratio '
              f'{format_ratio(memory[measure], spread="range")}'
              '   (goal: median <= 1.10)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(task=args.task, device=str(device),
                           threads=args.threads, det_size=args.det_size,
                           times=times, time_ratio=time_ratio._asdict(),
                           peaks=peaks,
                           memory_ratio={k: v._asdict()
                                         for k, v in memory.items()}),
                      f, indent=1)


if __name__ == '__main__':
    main()
