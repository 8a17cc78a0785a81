"""Training-health monitor of a distillation run: warnings in the log when
the losses show a known failure signature, and a stop before the first
optimizer step when the class centres cannot serve ND."""
import math
from collections import deque

import torch
from mmengine import dist
from mmengine.hooks import Hook

from nd_mmdet.registry import HOOKS
from ..class_centers import unwrap

#: Where each warning's "what to try" is written (anchor = condition).
DOCS = 'docs/health.md'


def _median_norm(rows):
    """Median L2 norm of the rows of a ``(N, D)`` tensor (float64)."""
    return torch.linalg.vector_norm(rows.detach().double(), dim=1).median()


def _seen_centres(centres, labels=None):
    """The centre rows ND can read: those of ``labels`` when given, else
    the non-zero rows (a class the pre-pass never saw has a zero row; with
    a subset of the classes in the data, the median over all rows would be
    0 and every ratio a false alarm). All rows when none is left."""
    if labels is not None:  # out-of-range labels: the loss reports them
        labels = labels[(labels >= 0) & (labels < centres.shape[0])]
    if labels is not None and labels.numel():
        rows = centres[labels.unique()]
    else:
        rows = centres[torch.linalg.vector_norm(centres.detach(), dim=1) > 0]
    return rows if rows.shape[0] else centres


class _Run:
    """Consecutive iterations at which a condition held, with the sum of a
    watched value (for the mean in the message)."""

    def __init__(self):
        self.clear()

    def clear(self):
        self.first, self.last, self.count, self.total = None, None, 0, 0.0
        self.low, self.high = math.inf, -math.inf

    def add(self, iteration, value):
        if self.first is None:
            self.first = iteration
        self.last, self.count = iteration, self.count + 1
        self.total += value
        self.low, self.high = min(self.low, value), max(self.high, value)

    @property
    def mean(self):
        return self.total / max(self.count, 1)


@HOOKS.register_module()
class TrainingHealthHook(Hook):
    """Watch what a distillation run can know from its own losses; warn in
    the log (``runner.logger``, level WARNING) with the numbers, at most once
    per condition and loss every ``warn_interval`` iterations, and list every
    condition seen at the end of training.

    It only reads the ``outputs`` dict that ``after_train_iter`` receives (the
    logged scalars of the iteration: mmengine turns them into Python numbers
    for the message hub anyway) and the model's ``distill_losses`` /
    ``loss_scales``: no forward pass, no change to the training. Iterations in
    messages are 1-based, as in the log lines (``Iter [n/N]``).

    A distillation loss's name is a key of ``model.distill_losses``; the task
    losses are the other logged keys that contain ``loss`` (the keys mmengine
    sums), without the total ``loss``. "Normalised ND" is a logged ND value
    divided by its ``loss_weight`` and by its scale in ``model.loss_scales``
    (``DistillLossWarmupHook`` / ``DistillLossStopHook``): the mean of
    ``1 - <s, u_y> / max(||s||, ||t||)``, in ``[0, 2]``.

    Warnings (each applies only where its inputs are logged):

    1. ``background``: the student's RoI classifier calls everything
       background. ``TwoStageDistiller`` logs ``roi_pred_bg_share`` (share of
       the ND stage's sampled RoIs whose arg-max class is background) and
       ``roi_bg_share`` (share of those RoIs labelled background); the
       warning comes when ``roi_pred_bg_share >= background_share`` while
       ``roi_bg_share <= 1 - min_foreground_share`` for
       ``background_iters`` iterations in a row. MMDetection's RoI ``acc``
       is then exactly 100 x ``roi_bg_share``. At the start of training
       every Faster R-CNN, distilled or not, calls all RoIs background while
       its RPN's proposals miss the objects (92-97 % of the sampled RoIs
       background, for up to ~100 iterations on the two-stage demo): that
       is the right answer then, not a failure, so iterations whose RoIs
       hold less than ``min_foreground_share`` foreground are not counted.
       The failures seen had the sampler's full 25 % foreground.
    2. ``nd_saturated``: normalised ND ``>= nd_saturated`` for
       ``nd_saturated_iters`` iterations in a row. A term is ~1 when the
       student's embedding has no component along its class direction
       relative to ``max(||s||, ||t||)``: at initialisation that is normal,
       so the window is long; staying there means ND does not move the
       student (typically ``||t|| >> ||s||``: ND's gradient on ``s`` is
       ``-u / ||t||``, vanishing). Above 1 the embeddings point away from
       their class centres.
    3. ``nd_falls_task_rises``: over the last ``trend_iters`` iterations, the
       mean normalised ND of the last quarter is more than ``nd_drop`` (a
       fraction) below that of the first quarter, while the summed task
       losses are more than ``task_rise`` above: ND is being satisfied at the
       expense of the task (the signature of the two-stage KD++ failure).
    4. ``zero``: a distillation loss exactly 0 for ``zero_iters`` iterations
       in a row while its scale is not 0 (e.g. ND at ground-truth boxes with
       every box below ``box_min_size``: it trains nothing).
    5. ``dominates``: a weighted distillation loss whose mean over the last
       ``dominate_iters`` iterations is more than ``dominate_factor`` times
       the mean summed task losses, checked while the task losses are still
       at least ``dominate_task_fraction`` of their mean over the first
       ``dominate_iters`` iterations (a classifier's training CE falls
       towards 0 late in training, where any ratio is large and harmless;
       a distillation loss that outweighs an unlearnt task is what starves
       it).

    Stop (``ValueError`` with the numbers, before the first optimizer step)
    when the class centres cannot serve ND, ``check_centres=True``:

    6. ``before_train`` (after ``ClassCentersHook``, which has a higher
       priority): any centre row non-finite, or the median centre norm above
       ``max_norm``; then, in the first iteration whose batch has ND rows, a
       forward pre-hook on each loss that reads ``class_centers`` compares
       (before the loss is computed) the median norms of the centres, of the
       teacher's embeddings and of the student's (after its connector):
       ``centre / teacher`` or ``student / teacher`` beyond ``norm_ratio``
       either way, a non-finite embedding, or a median norm above
       ``max_norm`` stops. Under DDP the medians are averaged over ranks
       first, so every rank decides alike.

    Thresholds of 6, from reasoning: a centre is the mean of the same
    teacher's embeddings on the same data, so its norm is at most the
    largest member norm and, for ReLU (non-negative) features, at least
    ``mean ||t|| / sqrt(D)`` (``||m||_2 >= ||m||_1 / sqrt(D)``): a factor of
    45 for ``D = 2048``. Signed (neck) features can cancel more, but a class
    mean 1000 times below its members means centres of another scale
    (another teacher, preprocessing or file). Student and teacher
    embeddings of networks fed normalised images with BN are ``O(1)`` per
    channel, norms ``O(sqrt(D))``; a ratio of 1000 cannot be closed by ND
    (see 2). ``max_norm = 1e6`` is 1e4 above a ``sqrt(2048) x 10`` norm:
    only an exploded network (a teacher trained at a far too high learning
    rate gave norms of 1e8 and more) reaches it.

    Args:
        background_share (float): share that counts as "everything" (1).
        background_iters (int): iterations in a row for 1.
        min_foreground_share (float): least share of foreground RoIs at
            which calling all of them background counts for 1.
        nd_saturated (float): normalised ND at or above which 2 counts.
        nd_saturated_iters (int): iterations in a row for 2.
        trend_iters (int): window of 3 (a multiple of 4, >= 8).
        nd_drop (float): relative fall of normalised ND for 3.
        task_rise (float): relative rise of the task losses for 3.
        zero_iters (int): iterations in a row for 4.
        dominate_factor (float): ratio for 5.
        dominate_iters (int): window of 5.
        dominate_task_fraction (float): see 5.
        check_centres (bool): run the checks of 6.
        norm_ratio (float): ratio limit of 6.
        max_norm (float): absolute median-norm limit of 6.
        warn_interval (int): iterations between two warnings of one
            condition and loss.
    """

    priority = 'LOW'

    def __init__(self,
                 background_share=0.99,
                 background_iters=20,
                 min_foreground_share=0.1,
                 nd_saturated=0.95,
                 nd_saturated_iters=200,
                 trend_iters=200,
                 nd_drop=0.3,
                 task_rise=0.1,
                 zero_iters=50,
                 dominate_factor=10.0,
                 dominate_iters=50,
                 dominate_task_fraction=0.5,
                 check_centres=True,
                 norm_ratio=1e3,
                 max_norm=1e6,
                 warn_interval=500):
        for name, value in (('background_iters', background_iters),
                            ('nd_saturated_iters', nd_saturated_iters),
                            ('zero_iters', zero_iters),
                            ('dominate_iters', dominate_iters),
                            ('warn_interval', warn_interval)):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    value < 1:
                raise ValueError(f'TrainingHealthHook: {name} must be an '
                                 f'int >= 1, got {value!r}')
        if not isinstance(trend_iters, int) or trend_iters < 8 or \
                trend_iters % 4:
            raise ValueError('TrainingHealthHook: trend_iters must be a '
                             f'multiple of 4, >= 8, got {trend_iters!r}')
        for name, value in (('background_share', background_share),
                            ('min_foreground_share', min_foreground_share),
                            ('nd_drop', nd_drop),
                            ('dominate_task_fraction',
                             dominate_task_fraction)):
            if not 0 < value <= 1:
                raise ValueError(f'TrainingHealthHook: {name} must be in '
                                 f'(0, 1], got {value!r}')
        for name, value in (('nd_saturated', nd_saturated),
                            ('task_rise', task_rise),
                            ('dominate_factor', dominate_factor),
                            ('norm_ratio', norm_ratio),
                            ('max_norm', max_norm)):
            if not value > 0:
                raise ValueError(f'TrainingHealthHook: {name} must be > 0, '
                                 f'got {value!r}')
        self.background_share = background_share
        self.background_iters = background_iters
        self.min_foreground_share = min_foreground_share
        self.nd_saturated = nd_saturated
        self.nd_saturated_iters = nd_saturated_iters
        self.trend_iters = trend_iters
        self.nd_drop = nd_drop
        self.task_rise = task_rise
        self.zero_iters = zero_iters
        self.dominate_factor = dominate_factor
        self.dominate_iters = dominate_iters
        self.dominate_task_fraction = dominate_task_fraction
        self.check_centres = check_centres
        self.norm_ratio = norm_ratio
        self.max_norm = max_norm
        self.warn_interval = warn_interval
        self._reset()

    def _reset(self):
        self._background = _Run()
        self._runs = {}          # (condition, loss name) -> _Run
        self._nd_trend = {}      # ND name -> deque of normalised ND
        self._task_trend = deque(maxlen=self.trend_iters)
        self._dominate = {}      # loss name -> deque of weighted values
        self._task_window = deque(maxlen=self.dominate_iters)
        self._task_start = None  # mean task loss of the first window
        self._last_warned = {}   # (condition, loss name) -> iteration
        self._summary = {}       # (condition, loss name) -> record
        self._handles = []

    # --------------------------------------------------------- centres
    def before_train(self, runner):
        self._reset()
        model = unwrap(runner.model)
        centres = getattr(model, 'class_centers', None)
        if not self.check_centres or centres is None:
            return
        bad = (~torch.isfinite(centres).all(dim=1)).nonzero().flatten()
        if bad.numel():
            raise ValueError(
                f'TrainingHealthHook: class centres of classes '
                f'{bad.tolist()[:20]} are not finite (centres from '
                f'{getattr(model, "class_centers_source", None)}); see '
                f'{DOCS}#centre-norms')
        median = float(_median_norm(_seen_centres(centres)))
        if median > self.max_norm:
            raise ValueError(
                f'TrainingHealthHook: the median class-centre norm is '
                f'{median:.4g} (> max_norm={self.max_norm:g}; centres from '
                f'{getattr(model, "class_centers_source", None)}): an '
                'exploded teacher (check model.teacher_ckpt) or a centre '
                'file of another scale (delete it to recompute); ND would '
                f'not train the student (see {DOCS}#centre-norms)')
        for name, loss in model.distill_losses.items():
            if 'class_centers' in model.loss_inputs.get(name, ()):
                self._handles.append(loss.register_forward_pre_hook(
                    self._make_norm_check(name), with_kwargs=True))

    def _make_norm_check(self, name):

        def check(module, args, kwargs):
            if self._handles and self._check_norms(name, kwargs):
                self._remove_handles()

        return check

    def _remove_handles(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _check_norms(self, name, values):
        """Compare the median norms of ``values``' centres and embeddings;
        False when the batch has no ND rows (checked at a later one)."""
        teacher = values.get('teacher_embed')
        centres = values.get('class_centers')
        if teacher is None or centres is None or teacher.shape[0] == 0:
            return False
        parts = {'class centres': _seen_centres(centres,
                                                values.get('labels')),
                 'teacher embeddings': teacher}
        student = values.get('student_embed')
        if student is not None and student.shape[0]:
            parts['student embeddings'] = student
        finite = torch.stack([torch.isfinite(p.detach()).all().double()
                              for p in parts.values()])
        medians = torch.stack([_median_norm(p) for p in parts.values()])
        stats = torch.cat([finite, medians.nan_to_num(0.0)])
        dist.all_reduce(stats, op='mean')
        count = len(parts)
        norms = dict(zip(parts, stats[count:].tolist()))
        shown = ', '.join(f'{k} {v:.4g}' for k, v in norms.items())
        where = (f'TrainingHealthHook ({name}, first batch with ND rows): '
                 f'median norms: {shown}')
        broken = [k for k, f in zip(parts, stats[:count].tolist()) if f < 1]
        if broken:
            raise ValueError(f'{where}; {broken} hold non-finite values; '
                             f'see {DOCS}#centre-norms')
        huge = [k for k, v in norms.items() if v > self.max_norm]
        if huge:
            raise ValueError(
                f'{where}: {huge} above max_norm={self.max_norm:g}: an '
                'exploded network, ND would be pinned at its maximum; check '
                f'the teacher checkpoint (see {DOCS}#centre-norms)')
        base = norms['teacher embeddings']
        for other in ('class centres', 'student embeddings'):
            if other not in norms:
                continue
            low, high = sorted((norms[other], base))
            if high > self.norm_ratio * low:
                raise ValueError(
                    f'{where}: {other} / teacher embeddings = '
                    f'{norms[other] / base if base else math.inf:.3g}, '
                    f'beyond norm_ratio={self.norm_ratio:g} either way: '
                    + ('the centres were made from another scale (another '
                       'teacher, preprocessing or centre file); delete the '
                       'centre file to recompute' if other == 'class centres'
                       else 'ND cannot close that gap (its gradient is '
                       'u / ||t||); check the teacher checkpoint and the '
                       'student_embed connector') +
                    f' (see {DOCS}#centre-norms)')
        return True

    # ---------------------------------------------------------- losses
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if not outputs:
            return
        model = unwrap(runner.model)
        losses = getattr(model, 'distill_losses', None)
        if losses is None:
            return
        iteration = runner.iter + 1
        values = {k: float(v.detach() if torch.is_tensor(v) else v)
                  for k, v in outputs.items()
                  if torch.is_tensor(v) or isinstance(v, (int, float))}
        distill = {k: values[k] for k in losses.keys() if k in values}
        task = sum(v for k, v in values.items()
                   if 'loss' in k and k != 'loss' and k not in losses)
        scales = getattr(model, 'loss_scales', {})
        self._check_background(runner, iteration, values)
        self._check_zero(runner, iteration, distill, scales, model)
        self._check_dominates(runner, iteration, distill, task)
        normalised = {}
        for name, value in distill.items():
            weight = getattr(losses[name], 'loss_weight', None)
            scale = scales.get(name, 1.0)
            if type(losses[name]).__name__ == 'NDLoss' and weight and scale:
                normalised[name] = value / (weight * scale)
        self._check_nd(runner, iteration, normalised, task)

    def _run(self, condition, name):
        return self._runs.setdefault((condition, name), _Run())

    def _check_background(self, runner, iteration, values):
        pred = values.get('roi_pred_bg_share')
        share = values.get('roi_bg_share')
        run = self._background
        if pred is None or share is None:
            return
        if not (pred >= self.background_share and
                share <= 1 - self.min_foreground_share):
            run.clear()
            return
        run.add(iteration, share)
        if run.count < self.background_iters:
            return
        acc = f', RoI acc {values["acc"]:.1f} %' if 'acc' in values else ''
        self._warn(
            runner, 'background', None, iteration,
            f"the student's RoI classifier called >= "
            f'{self.background_share:.0%} of its sampled RoIs background at '
            f'each of iterations {run.first}-{run.last} ({run.count} in a '
            f'row) while only {run.mean:.1%} of them are background (mean; '
            f'last: predicted {pred:.1%}{acc}): it calls everything '
            'background')

    def _check_zero(self, runner, iteration, distill, scales, model):
        for name, value in distill.items():
            run = self._run('zero', name)
            if value != 0.0 or scales.get(name, 1.0) == 0:
                run.clear()
                continue
            run.add(iteration, value)
            if run.count < self.zero_iters:
                continue
            hint = ''
            if getattr(model, 'uses_gt_boxes', False) and \
                    'labels' in model.loss_inputs.get(name, ()):
                hint = (' (ND at ground-truth boxes: no box may reach '
                        f'box_min_size={model.box_min_size})')
            self._warn(
                runner, 'zero', name, iteration,
                f'{name} was exactly 0 at each of iterations {run.first}-'
                f'{run.last} ({run.count} in a row): it trains '
                f'nothing{hint}')

    def _check_dominates(self, runner, iteration, distill, task):
        self._task_window.append(task)
        full = len(self._task_window) == self.dominate_iters
        task_mean = sum(self._task_window) / len(self._task_window)
        if full and self._task_start is None:
            self._task_start = task_mean
        for name, value in distill.items():
            window = self._dominate.setdefault(
                name, deque(maxlen=self.dominate_iters))
            window.append(value)
            if not full or len(window) < self.dominate_iters or \
                    task_mean <= 0 or \
                    task_mean < self.dominate_task_fraction * \
                    self._task_start:
                continue
            mean = sum(window) / len(window)
            if mean > self.dominate_factor * task_mean:
                self._warn(
                    runner, 'dominates', name, iteration,
                    f'{name} (weighted) averaged {mean:.4g} over iterations '
                    f'{iteration - self.dominate_iters + 1}-{iteration}, '
                    f'{mean / task_mean:.1f} times the student\'s task '
                    f'losses ({task_mean:.4g}; > dominate_factor='
                    f'{self.dominate_factor:g}): the distillation loss '
                    'outweighs the task the student has not learnt yet')

    def _check_nd(self, runner, iteration, normalised, task):
        self._task_trend.append(task)
        for name, value in normalised.items():
            run = self._run('nd_saturated', name)
            if value >= self.nd_saturated:
                run.add(iteration, value)
            else:
                run.clear()
            if run.count >= self.nd_saturated_iters:
                side = ('above 1: the student\'s embeddings point away from '
                        'their class centres' if run.mean > 1 else
                        'ND does not move the student (typically the '
                        'teacher\'s embedding norm far above the '
                        'student\'s: ND\'s gradient is u / ||t||)')
                self._warn(
                    runner, 'nd_saturated', name, iteration,
                    f'{name} / loss_weight stayed >= {self.nd_saturated:g} '
                    f'at each of iterations {run.first}-{run.last} '
                    f'({run.count} in a row; mean {run.mean:.3f}, min '
                    f'{run.low:.3f}, max {run.high:.3f}; range [0, 2]): '
                    f'{side}')
            trend = self._nd_trend.setdefault(
                name, deque(maxlen=self.trend_iters))
            trend.append(value)
            if len(trend) < self.trend_iters or \
                    len(self._task_trend) < self.trend_iters:
                continue
            quarter = self.trend_iters // 4
            nd_first = sum(list(trend)[:quarter]) / quarter
            nd_last = sum(list(trend)[-quarter:]) / quarter
            task_first = sum(list(self._task_trend)[:quarter]) / quarter
            task_last = sum(list(self._task_trend)[-quarter:]) / quarter
            if nd_first <= 0 or task_first <= 0:
                continue
            drop = (nd_first - nd_last) / nd_first
            rise = (task_last - task_first) / task_first
            if drop > self.nd_drop and rise > self.task_rise:
                start = iteration - self.trend_iters + 1
                self._warn(
                    runner, 'nd_falls_task_rises', name, iteration,
                    f'over iterations {start}-{iteration}, {name} / '
                    f'loss_weight fell {drop:.0%} ({nd_first:.3f} -> '
                    f'{nd_last:.3f}, means of the first and last '
                    f'{quarter}) while the student\'s task losses rose '
                    f'{rise:.0%} ({task_first:.4g} -> {task_last:.4g}): ND '
                    'is satisfied at the expense of the task')

    # ------------------------------------------------------- reporting
    def _warn(self, runner, condition, name, iteration, message):
        key = (condition, name)
        record = self._summary.setdefault(
            key, dict(first=iteration, last=iteration, warned=0))
        record['last'] = iteration
        last = self._last_warned.get(key)
        if last is not None and iteration - last < self.warn_interval:
            return
        self._last_warned[key] = iteration
        record['warned'] += 1
        runner.logger.warning(
            f'training health [{condition}] iteration {iteration}: '
            f'{message}; what to try: {DOCS}#{condition.replace("_", "-")}')

    def after_train(self, runner):
        self._remove_handles()
        if not self._summary:
            runner.logger.info('training health: no warning')
            return
        lines = [
            f'[{condition}]{f" {name}" if name else ""}: held at iterations '
            f'{r["first"]}-{r["last"]} (not necessarily all), warned '
            f'{r["warned"]} time(s)'
            for (condition, name), r in self._summary.items()
        ]
        runner.logger.warning(
            f'training health summary: {len(lines)} condition(s) seen: ' +
            '; '.join(lines) + f' (see {DOCS})')
