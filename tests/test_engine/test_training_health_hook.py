"""TrainingHealthHook: each warning fed synthetic per-iteration outputs
(the condition held -> one warning with the numbers; a healthy sequence ->
none), the rate limit and the end-of-training summary, the centre-norm stop
on synthetic tensors, the two-stage distiller's background shares, and two
real runs: a two-stage KD++ made to fail (ND weight 100: the distillation
loss dominates, warned in the log file) and a classification KD++ whose
class centres are scaled by 1e6 or 1e4 (stops before the first optimizer
step)."""
import glob
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from torch import nn

from nd_mmdet.engine.class_centers import (compute_class_centers,
                                           save_class_centers)
from nd_mmdet.engine.dataset_identity import dataset_identity
from nd_mmdet.engine.hooks import ClassCentersHook, TrainingHealthHook
from nd_mmdet.models.distillers.two_stage_distiller import TwoStageDistiller
from nd_mmdet.models.losses import KDLoss, NDLoss
from nd_mmdet.utils import build_model_from_spec
from tests.test_configs.test_two_stage_demo_configs import tiny_kdpp_config
from tests.test_tools.test_demo import tiny_fmnist  # noqa: F401 (fixture)
from tests.tools_runner import REPO

torch.set_num_threads(1)

ND_INPUTS = ('student_embed', 'teacher_embed', 'labels', 'class_centers')


class FakeDistiller(nn.Module):
    """What the hook reads of a distiller: named losses, their inputs, the
    scales and the class centres."""

    def __init__(self, nd_weight=2.0, centres=None):
        super().__init__()
        self.distill_losses = nn.ModuleDict(
            dict(loss_kd=KDLoss(), loss_nd=NDLoss(loss_weight=nd_weight)))
        self.loss_inputs = dict(loss_kd=('student_logits', 'teacher_logits'),
                                loss_nd=ND_INPUTS)
        self.loss_scales = {}
        self.class_centers = centres
        self.class_centers_source = 'centres.pth'


class Logger:

    def __init__(self):
        self.warnings, self.infos = [], []

    def warning(self, message):
        self.warnings.append(message)

    def info(self, message):
        self.infos.append(message)


def make_runner(model=None):
    return SimpleNamespace(model=model or FakeDistiller(), iter=0,
                           logger=Logger())


def feed(hook, runner, sequence):
    """Run ``after_train_iter`` on each outputs dict (iterations 1, 2...,
    continuing from ``runner.iter``)."""
    for outputs in sequence:
        outputs = {k: torch.tensor(float(v)) for k, v in outputs.items()}
        hook.after_train_iter(runner, runner.iter, outputs=outputs)
        runner.iter += 1


def healthy(**extra):
    """One iteration of plain losses: task 1.5, KD 0.5, ND 2 x 0.4."""
    return dict(dict(loss=2.8, loss_cls=1.0, loss_bbox=0.5, loss_kd=0.5,
                     loss_nd=0.8), **extra)


# ------------------------------------------------------------ background
def test_background_warns_after_consecutive_iterations_with_the_numbers():
    hook, runner = TrainingHealthHook(background_iters=20), make_runner()
    bad = healthy(roi_bg_share=0.75, roi_pred_bg_share=1.0, acc=75.0)
    feed(hook, runner, [bad] * 10 + [dict(bad, roi_pred_bg_share=0.9)] +
         [bad] * 19)
    assert runner.logger.warnings == []  # 10, then a break, then 19
    feed(hook, runner, [bad])
    (message, ) = runner.logger.warnings
    assert '[background] iteration 31' in message
    assert 'iterations 12-31 (20 in a row)' in message
    assert 'only 75.0% of them are background' in message
    assert 'RoI acc 75.0 %' in message
    assert 'docs/health.md#background' in message


def test_background_not_warned_when_the_rois_are_background_or_no_keys():
    hook, runner = TrainingHealthHook(background_iters=5), make_runner()
    # every RoI truly background: calling them background is right
    feed(hook, runner, [healthy(roi_bg_share=1.0, roi_pred_bg_share=1.0)]
         * 30)
    # a classifier that predicts 98 % background: not "everything"
    feed(hook, runner, [healthy(roi_bg_share=0.75, roi_pred_bg_share=0.98)]
         * 30)
    feed(hook, runner, [healthy()] * 30)  # distillers without the keys
    assert runner.logger.warnings == []


def test_background_at_the_start_of_every_faster_rcnn_is_not_warned():
    """The two-stage demo's distilled runs, iterations 5-95 (logged
    shares): the RPN's proposals still miss the objects, 92-97 % of the
    sampled RoIs are background and the classifier calls all of them
    background, as the student alone does. Every healthy run used to get
    a [background] warning there (they ended 51-53 box AP)."""
    hook, runner = TrainingHealthHook(), make_runner()
    start = [healthy(roi_bg_share=share, roi_pred_bg_share=1.0,
                     acc=100 * share)
             for share in np.linspace(0.965, 0.92, 90)]
    feed(hook, runner, start)
    assert runner.logger.warnings == []
    # the same classifier once the RoIs hold 12 % foreground: warned
    feed(hook, runner, [healthy(roi_bg_share=0.88, roi_pred_bg_share=1.0,
                                acc=88.0)] * 20)
    (message, ) = runner.logger.warnings
    assert 'iterations 91-110 (20 in a row)' in message
    assert 'only 88.0% of them are background' in message


# ------------------------------------------------------------ ND pinned
def test_nd_saturated_uses_weight_and_scale():
    hook = TrainingHealthHook(nd_saturated_iters=30, trend_iters=400)
    runner = make_runner(FakeDistiller(nd_weight=2.0))
    # logged 0.99 with weight 2: normalised 0.495, healthy
    feed(hook, runner, [healthy(loss_nd=0.99)] * 40)
    assert runner.logger.warnings == []
    # with a scale of 0.5 the same logged value is 0.99 x (2 x 0.5)
    runner.model.loss_scales['loss_nd'] = 0.5
    feed(hook, runner, [healthy(loss_nd=0.98)] * 15 +
         [healthy(loss_nd=1.0)] * 15)
    (message, ) = runner.logger.warnings
    assert 'iterations 41-70 (30 in a row; mean 0.990, min 0.980, max ' \
        '1.000; range [0, 2])' in message
    assert 'ND does not move the student' in message


def test_nd_above_one_says_opposite_directions_and_falling_nd_is_fine():
    hook = TrainingHealthHook(nd_saturated_iters=10, trend_iters=400)
    runner = make_runner(FakeDistiller(nd_weight=1.0))
    # from 1.0 down to 0.5 within 10 iterations: the start is normal
    feed(hook, runner, [healthy(loss_nd=1.0 - 0.05 * i) for i in range(11)])
    assert runner.logger.warnings == []
    feed(hook, runner, [healthy(loss_nd=1.5)] * 10)
    (message, ) = runner.logger.warnings
    assert 'mean 1.500' in message and 'point away' in message


# ------------------------------------------------------ ND falls, task rises
def nd_task(nd_values, task_values):
    return [dict(loss_nd=nd, loss_cls=task, loss_kd=0.1, loss=nd + task)
            for nd, task in zip(nd_values, task_values)]


def test_nd_falling_while_the_task_losses_rise():
    hook = TrainingHealthHook(trend_iters=40, nd_saturated_iters=1000)
    runner = make_runner(FakeDistiller(nd_weight=2.0))
    nd = 2.0 * np.linspace(0.9, 0.3, 40)      # normalised 0.9 -> 0.3
    task = np.linspace(1.0, 1.5, 40)
    feed(hook, runner, nd_task(nd, task))
    (message, ) = runner.logger.warnings
    # by hand: means of the first / last 10 of the linear ramps
    nd_first, nd_last = np.mean(nd[:10]) / 2, np.mean(nd[-10:]) / 2
    t_first, t_last = np.mean(task[:10]), np.mean(task[-10:])
    assert f'({nd_first:.3f} -> {nd_last:.3f}' in message
    assert f'({t_first:.4g} -> {t_last:.4g})' in message
    assert f'fell {(nd_first - nd_last) / nd_first:.0%}' in message
    assert f'rose {(t_last - t_first) / t_first:.0%}' in message
    assert 'over iterations 1-40' in message


@pytest.mark.parametrize('task', [np.linspace(1.5, 1.0, 40),
                                  np.linspace(1.0, 1.05, 40)])
def test_nd_falling_with_falling_or_flat_task_losses_is_healthy(task):
    hook = TrainingHealthHook(trend_iters=40, nd_saturated_iters=1000)
    runner = make_runner(FakeDistiller(nd_weight=2.0))
    feed(hook, runner, nd_task(2.0 * np.linspace(0.9, 0.3, 40), task))
    assert runner.logger.warnings == []


# ------------------------------------------------------------ exactly 0
def test_zero_distillation_loss_warned_unless_switched_off():
    hook, runner = TrainingHealthHook(zero_iters=10), make_runner()
    feed(hook, runner, [healthy(loss_nd=1e-12)] * 20)  # small, not 0
    runner.model.loss_scales['loss_nd'] = 0.0  # DistillLossStopHook
    feed(hook, runner, [healthy(loss_nd=0.0)] * 20)
    assert runner.logger.warnings == []
    runner.model.loss_scales['loss_nd'] = 1.0
    feed(hook, runner, [healthy(loss_nd=0.0)] * 10)
    (message, ) = runner.logger.warnings
    assert 'loss_nd was exactly 0 at each of iterations 41-50 (10 in a ' \
        'row)' in message
    assert 'box_min_size' not in message


def test_zero_names_box_min_size_for_nd_at_ground_truth_boxes():
    hook, model = TrainingHealthHook(zero_iters=3), FakeDistiller()
    model.uses_gt_boxes, model.box_min_size = True, 64.0
    runner = make_runner(model)
    feed(hook, runner, [healthy(loss_nd=0.0)] * 3)
    (message, ) = runner.logger.warnings
    assert 'box_min_size=64.0' in message


# ------------------------------------------------------------ dominates
def test_distillation_loss_dominating_the_task():
    hook = TrainingHealthHook(dominate_iters=10)
    runner = make_runner()
    # PKD-like: 22 against task losses of 1.4 (ratio 15.7)
    steps = [dict(loss_cls=1.0, loss_bbox=0.4, loss_kd=22.0 + d,
                  loss_nd=0.8) for d in (-1.0, 1.0) * 5]
    feed(hook, runner, steps)
    (message, ) = runner.logger.warnings
    assert 'loss_kd (weighted) averaged 22 over iterations 1-10, 15.7 ' \
        'times' in message
    assert '(1.4; > dominate_factor=10)' in message


def test_large_ratio_once_the_task_is_learnt_is_not_warned():
    hook = TrainingHealthHook(dominate_iters=10)
    runner = make_runner()
    feed(hook, runner, [dict(loss_cls=2.0, loss_kd=5.0)] * 10)  # ratio 2.5
    # a classifier's training CE near 0 late in training: ratio 50
    feed(hook, runner, [dict(loss_cls=0.1, loss_kd=5.0)] * 30)
    assert runner.logger.warnings == []


# ------------------------------------------------ rate limit and summary
def test_one_warning_per_interval_and_the_summary():
    hook = TrainingHealthHook(zero_iters=5, warn_interval=50)
    runner = make_runner()
    feed(hook, runner, [healthy(loss_kd=0.0)] * 100)
    warned = [m for m in runner.logger.warnings if 'loss_kd' in m]
    assert len(warned) == 2
    assert 'iteration 5:' in warned[0] and 'iteration 55:' in warned[1]
    hook.after_train(runner)
    summary = runner.logger.warnings[-1]
    assert summary.startswith('training health summary: 1 condition(s)')
    assert '[zero] loss_kd: held at iterations 5-100' in summary
    assert 'warned 2 time(s)' in summary


def test_healthy_run_summary_is_no_warning():
    hook, runner = TrainingHealthHook(), make_runner()
    feed(hook, runner, [healthy()] * 300)
    hook.after_train(runner)
    assert runner.logger.warnings == []
    assert runner.logger.infos == ['training health: no warning']


def test_arguments_are_checked():
    for bad in (dict(trend_iters=30), dict(zero_iters=0),
                dict(background_share=1.5), dict(norm_ratio=0),
                dict(min_foreground_share=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainingHealthHook(**bad)


# ------------------------------------------------------------ centres
def nd_call(model, student, teacher, centres, labels=None):
    labels = torch.zeros(len(teacher), dtype=torch.long) \
        if labels is None else labels
    return model.distill_losses['loss_nd'](
        student_embed=student, teacher_embed=teacher, labels=labels,
        class_centers=centres)


def test_centres_far_from_the_teacher_embeddings_stop():
    torch.manual_seed(0)
    centres = torch.rand(3, 8) * 1e4  # median norm ~1e4: under max_norm
    model = FakeDistiller(centres=centres)
    runner = make_runner(model)
    hook = TrainingHealthHook()
    hook.before_train(runner)
    # a batch without ND rows: checked at the next one
    nd_call(model, torch.zeros(0, 8), torch.zeros(0, 8), centres)
    teacher, student = torch.rand(6, 8), torch.rand(6, 8)
    centre_median = torch.linalg.vector_norm(centres.double(), dim=1).median()
    teacher_median = torch.linalg.vector_norm(teacher.double(),
                                              dim=1).median()
    ratio = float(centre_median / teacher_median)
    assert ratio > 1e3
    with pytest.raises(ValueError) as err:
        nd_call(model, student, teacher, centres, torch.arange(6) % 3)
    message = str(err.value)
    assert f'class centres {float(centre_median):.4g}' in message
    assert f'teacher embeddings {float(teacher_median):.4g}' in message
    assert f'class centres / teacher embeddings = {ratio:.3g}' in message


def test_centres_of_unseen_classes_are_not_compared():
    """A subset of the classes in the data: 2 of 10 centres seen, the other
    rows 0. The median over every row would be 0 and stop a sound run; the
    rows of the batch's labels (or the non-zero rows) are compared."""
    torch.manual_seed(0)
    centres = torch.zeros(10, 8)
    centres[[2, 7]] = torch.rand(2, 8) + 0.5
    model = FakeDistiller(centres=centres)
    hook = TrainingHealthHook()
    hook.before_train(make_runner(model))
    teacher = torch.rand(6, 8) + 0.5
    nd_call(model, teacher * 0.9, teacher, centres,
            torch.tensor([2, 7, 2, 7, 2, 2]))
    # the same centres 1e4 times too large are still caught
    centres = centres * 1e4
    model = FakeDistiller(centres=centres)
    hook = TrainingHealthHook()
    hook.before_train(make_runner(model))
    with pytest.raises(ValueError, match='class centres / teacher'):
        nd_call(model, teacher * 0.9, teacher, centres,
                torch.tensor([2, 7, 2, 7, 2, 2]))


def test_student_far_below_the_teacher_stops_and_healthy_passes_once():
    torch.manual_seed(0)
    centres = torch.rand(3, 8)
    model = FakeDistiller(centres=centres)
    hook = TrainingHealthHook()
    hook.before_train(make_runner(model))
    teacher = torch.rand(6, 8)
    with pytest.raises(ValueError, match='student embeddings / teacher '
                       'embeddings = 1e-05'):
        nd_call(model, teacher * 1e-5, teacher, centres)
    # a healthy first batch: checked once, then the check is removed
    nd_call(model, teacher * 0.5, teacher, centres)
    nd_call(model, teacher * 1e-5, teacher, centres)  # no longer checked


def test_exploded_centres_stop_in_before_train():
    model = FakeDistiller(centres=torch.full((3, 4), 1e7))
    with pytest.raises(ValueError, match=r'median class-centre norm is '
                       r'2e\+07 \(> max_norm=1e\+06'):
        TrainingHealthHook().before_train(make_runner(model))
    model.class_centers[1, 0] = float('nan')
    with pytest.raises(ValueError, match=r'classes \[1\] are not finite'):
        TrainingHealthHook().before_train(make_runner(model))


# ------------------------------------------- two-stage background shares
def test_two_stage_background_shares_by_hand():
    head = nn.Module()
    head.num_classes = 3
    roi_head = nn.Module()
    roi_head.bbox_roi_extractor, roi_head.bbox_head = nn.Identity(), head
    fake = SimpleNamespace(student=SimpleNamespace(roi_head=roi_head),
                           nd_stage=None)
    labels = torch.tensor([3, 3, 0, 1, 3, 2, 3, 3])  # 5 of 8 background
    scores = torch.zeros(8, 4)
    scores[[0, 1, 2, 4, 7], 3] = 1.0                 # 5 argmax background
    scores[[3, 5, 6], 0] = 1.0
    shares = TwoStageDistiller.background_shares(fake, labels, scores)
    assert shares['roi_bg_share'].item() == pytest.approx(5 / 8)
    assert shares['roi_pred_bg_share'].item() == pytest.approx(5 / 8)
    scores[3, 3] = 2.0
    shares = TwoStageDistiller.background_shares(fake, labels, scores)
    assert shares['roi_pred_bg_share'].item() == pytest.approx(6 / 8)
    # mmengine logs them but does not add them to the loss
    assert not any('loss' in key for key in shares)


# ---------------------------------------------------------- real runs
def log_text(work_dir):
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(path) as f:
        return f.read()


def test_two_stage_run_made_to_fail_is_warned_in_the_log(tmp_path):
    cfg = tiny_kdpp_config(tmp_path, max_iters=3)
    cfg.merge_from_dict({'model.distill_losses.loss_nd.loss_weight': 100.0})
    work_dir = cfg.work_dir
    hooks = [h for h in cfg.custom_hooks
             if h['type'] != 'nd_mmdet.TrainingHealthHook']
    cfg.custom_hooks = hooks + [
        dict(type='nd_mmdet.TrainingHealthHook', dominate_iters=2)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    text = log_text(work_dir)
    # the numbers of the warning, from the logged losses of iterations 1-2
    hub = runner.message_hub
    history = {k[len('train/'):]: v.data[0] for k, v in
               hub.log_scalars.items() if k.startswith('train/')}
    task = sum(history[k][:2] for k in history
               if 'loss' in k and k not in ('loss', 'loss_kd', 'loss_nd'))
    nd = history['loss_nd'][:2].mean()
    assert nd / task.mean() > 10
    assert (f'training health [dominates] iteration 2: loss_nd (weighted) '
            f'averaged {nd:.4g} over iterations 1-2, '
            f'{nd / task.mean():.1f} times') in text
    assert 'training health summary: ' in text
    assert '[dominates] loss_nd: held at iterations 2-3' in text
    for key in ('roi_bg_share', 'roi_pred_bg_share'):
        assert len(history[key]) == 3
        assert ((history[key] >= 0) & (history[key] <= 1)).all()
    assert 'acc' in history


def demo_kdpp_runner(tmp_path, fmnist_root, hooks=None, name='work'):
    """The classification demo's KD++ on tiny Fashion-MNIST, a random
    teacher, batches of 30, 2 iterations; ``hooks`` replaces its hooks."""
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/demo/kd++_resnet8-resnet8thin_fmnist-2k.py'))
    teacher_ckpt = str(tmp_path / 'teacher.pth')
    torch.manual_seed(0)
    torch.save(build_model_from_spec(cfg.model.teacher).state_dict(),
               teacher_ckpt)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / name),
        'model.teacher_ckpt': teacher_ckpt,
        'train_dataloader.batch_size': 30,
        'train_dataloader.dataset.data_root': fmnist_root,
        'train_dataloader.dataset.subset_size': None,
        'test_dataloader.dataset.data_root': fmnist_root,
        'train_cfg.max_iters': 2,
        'default_hooks.logger.interval': 1,
    })
    if hooks is not None:
        cfg.custom_hooks = hooks
    return Runner.from_cfg(cfg)


def test_the_hook_changes_no_logged_value(tmp_path, tiny_fmnist):  # noqa
    """Two iterations of the demo KD++ with and without the hook (the
    centre check runs in the first forward): the same losses, bit for
    bit."""
    logged = []
    for name, health in (('without', []),
                         ('with', [dict(type='nd_mmdet.TrainingHealthHook')])):
        runner = demo_kdpp_runner(
            tmp_path, tiny_fmnist, name=name,
            hooks=[dict(type='nd_mmdet.ClassCentersHook')] + health)
        runner.train()
        logged.append({k: v.data[0].tolist() for k, v in
                       runner.message_hub.log_scalars.items()
                       if 'loss' in k})
    assert set(logged[0]) >= {'train/loss_cls', 'train/loss_kd',
                              'train/loss_nd'}
    assert all(len(v) == 2 for v in logged[0].values())
    assert logged[0] == logged[1]


@pytest.mark.parametrize('scale', [1e6, 1e4])
def test_scaled_centres_stop_before_the_first_step(
        tmp_path, tiny_fmnist, scale):  # noqa: F811
    """x 1e6: the median centre norm (1.5 unscaled) is above max_norm,
    stopped in before_train; x 1e4: under it, but 1e4 times the teacher's
    embeddings in the first batch, stopped in the first forward."""
    runner = demo_kdpp_runner(tmp_path, tiny_fmnist)
    model = runner.model
    loader = runner.build_dataloader(runner._train_dataloader)
    centres, counts = compute_class_centers(model, loader)
    median = float(torch.linalg.vector_norm(centres.double(), dim=1).median())
    path = str(tmp_path / 'scaled_centres.pth')
    save_class_centers(path, centres * scale, counts, model.teacher_digest,
                       dataset_identity(loader.dataset))
    (centre_hook, ) = [h for h in runner.hooks
                       if isinstance(h, ClassCentersHook)]
    centre_hook.centers_file = path
    with pytest.raises(ValueError, match='TrainingHealthHook') as err:
        runner.train()
    # the median norm of the scaled centres, computed here, is in the
    # message; no optimizer step was taken
    assert f'{median * scale:.4g}' in str(err.value)
    if median * scale > 1e6:
        assert 'median class-centre norm is' in str(err.value)
    else:
        assert 'class centres / teacher embeddings = ' in str(err.value)
    assert runner.iter == 0
    assert not runner.optim_wrapper.optimizer.state
