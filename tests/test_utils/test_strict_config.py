"""Strict config keys (nd_mmdet/utils/strict_config.py): a key that nothing
reads is an error naming it and the closest key that is read; helper
variables are accepted."""
import glob
import os.path as osp
import textwrap

import pytest
from mmengine.config import Config

from nd_mmdet.utils.strict_config import (EXTRA_KEYS, StrictConfigError,
                                          accepted_args, check_config_keys,
                                          convention_keys, runner_keys)
from tests.tools_runner import REPO

BASE = '''
model = dict(type='TinyModel')
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
val_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))
randomness = dict(seed=0)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
custom_hooks = []
'''


def load(tmp_path, text, options=None):
    """The config ``BASE`` + ``text`` (a file with ``_base_``, read as the
    tools read it), ``options`` merged as --cfg-options."""
    (tmp_path / 'base.py').write_text(BASE)
    (tmp_path / 'cfg.py').write_text("_base_ = ['base.py']\n" +
                                     textwrap.dedent(text))
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def check(tmp_path, text, options=None):
    return check_config_keys(load(tmp_path, text, options), options)


def test_known_keys_come_from_the_runner_and_the_shipped_configs():
    """The Runner's own arguments and what runner.py reads from cfg; the
    variables of OpenMMLab configs (read by ast from the installed
    packages' .mim/configs)."""
    assert {'randomness', 'train_cfg', 'optim_wrapper', 'custom_hooks',
            'default_hooks', 'find_unused_parameters', 'model_wrapper_cfg',
            'compile'} <= runner_keys()
    assert not {'dist_cfg', 'seed', 'type'} & runner_keys()
    assert {'dataset_type', 'data_root', 'train_pipeline', 'backend_args',
            'test_pipeline', 'img_scale'} <= convention_keys()


@pytest.mark.parametrize('typo,closest', [
    ('randomnes', 'randomness'),
    ('train_cfgg', 'train_cfg'),
    ('optim_wraper', 'optim_wrapper'),
    ('custom_hook', 'custom_hooks'),
    ('val_evalutor', 'val_evaluator'),
    ('default_hook', 'default_hooks'),
    ('param_schedular', 'param_scheduler'),
])
def test_a_typo_of_a_top_level_key_names_the_closest(tmp_path, typo,
                                                     closest):
    with pytest.raises(StrictConfigError) as err:
        check(tmp_path, f"{typo} = dict(seed=1, max_epochs=2, x=[3])\n")
    assert f'`{typo}`' in str(err.value)
    assert f'did you mean `{closest}`?' in str(err.value)


def test_a_scalar_typo_is_caught_too(tmp_path):
    with pytest.raises(StrictConfigError, match='did you mean `load_from`'):
        check(tmp_path, "load_form = 'teacher.pth'\n")


def test_a_helper_variable_unlike_any_key_is_accepted_and_warned(
        tmp_path, capsys):
    helpers = check(tmp_path, "my_schedule_note = 'short run'\n")
    assert helpers == ['my_schedule_note']


def test_a_helper_close_to_a_key_is_accepted_when_it_builds_a_value(
        tmp_path):
    """``num_class`` is close to the conventional ``num_classes``; it is
    used in the model, so it is a helper."""
    assert check(tmp_path, '''
        num_class = 7
        model = dict(num_classes=num_class)
        ''') == []


@pytest.fixture
def logged(tmp_path):
    """``(logger, warnings)``: a fresh mmengine logger writing to a file,
    and a function giving the strict-config warnings written so far."""
    import uuid

    from mmengine.logging import MMLogger
    log_file = tmp_path / 'check.log'
    logger = MMLogger.get_instance(f'strict-{uuid.uuid4().hex}',
                                   log_file=str(log_file), log_level='INFO')

    def warnings():
        text = log_file.read_text() if log_file.exists() else ''
        return [line.split(' - WARNING - ', 1)[1]
                for line in text.splitlines() if ' - WARNING - ' in line]

    return logger, warnings


def test_helpers_that_build_other_keys_do_not_warn(tmp_path, logged):
    """Plain helper variables (int, str, list; an uninformative value such
    as 1 too) that other keys are computed from, in the file or in a
    ``_base_`` file (``_base_.x``, ``{{_base_.x}}``), are accepted without
    a warning; one that nothing uses still warns."""
    (tmp_path / 'base.py').write_text(BASE)
    (tmp_path / 'sched.py').write_text(textwrap.dedent('''
        _base_ = ['base.py']
        iters = 2
        warmup = min(50, iters // 2)
        stages = [0.5, 0.75]
        tag = 'exp'
        width_of_base = 5
        train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                         max_iters=iters)
        param_scheduler = [
            dict(type='LinearLR', by_epoch=False, begin=0, end=warmup),
            dict(type='MultiStepLR', by_epoch=False,
                 milestones=[int(s * iters) for s in stages])]
        work_dir = 'work_dirs/' + tag
        '''))
    (tmp_path / 'cfg.py').write_text(textwrap.dedent('''
        _base_ = ['sched.py']
        width = 3
        model = dict(width=_base_.width_of_base, depth={{_base_.iters}})
        notes = 'kept for me'
        '''))
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    assert cfg.param_scheduler[0].end == 1 and cfg.model.depth == 2
    logger, warnings = logged
    assert check_config_keys(cfg, logger=logger) == ['width', 'notes']
    assert warnings() == [
        'config: top-level keys width, notes are read by nothing known and '
        'used by no other key (kept; list keys read by your own code in '
        f'{EXTRA_KEYS})']


def test_a_typo_is_an_error_beside_used_helpers(tmp_path):
    """Helpers referred to in the same file do not excuse a misspelt key
    that nothing refers to."""
    for typo, closest in (('train_cfgg', 'train_cfg'),
                          ('optim_wraper', 'optim_wrapper')):
        with pytest.raises(StrictConfigError,
                           match=f'`{typo}`.*did you mean `{closest}`'):
            check(tmp_path, f'''
                iters = 7
                model = dict(type='TinyModel', depth=iters)
                {typo} = dict(max_epochs=iters)
                ''')


def test_the_walkthrough_schedule_does_not_warn(logged, monkeypatch):
    """benchmarks/two_stage_ablation's schedule (the one of
    docs/custom_dataset.md's walkthrough): ``iters`` / ``warmup`` are
    helpers, at the default and at the tests' 2 iterations (warmup 1)."""
    path = osp.join(REPO, 'benchmarks', 'two_stage_ablation', 'configs',
                    'schedule.py')
    for iters in (None, '2'):
        if iters:
            monkeypatch.setenv('ITERS', iters)
        cfg = Config.fromfile(path)
        assert check_config_keys(cfg, logger=logged[0]) == []
    assert cfg.param_scheduler[0].end == 1
    assert logged[1]() == []


def test_a_helper_close_to_a_key_that_builds_nothing_is_an_error(tmp_path):
    with pytest.raises(StrictConfigError, match='`num_class`.*num_classes'):
        check(tmp_path, 'num_class = 7\n')


def test_an_uninformative_value_does_not_make_a_helper(tmp_path):
    """``True`` occurs anywhere by chance (here in train_cfg.by_epoch): a
    misspelt ``resume`` is still an error."""
    with pytest.raises(StrictConfigError, match='`resum`.*`resume`'):
        check(tmp_path, 'resum = True\n')


@pytest.mark.parametrize('option,needle', [
    ('randomnes.seed', 'did you mean `randomness`'),
    ('totally_new', 'totally_new'),
    ('data_root', 'changes nothing'),
])
def test_cfg_options_cannot_create_an_unknown_top_level_key(
        tmp_path, option, needle):
    """A key only --cfg-options creates can be nobody's helper: unknown is
    an error even when it is close to nothing; a value equal to the
    config's own (seed 0) does not excuse it."""
    with pytest.raises(StrictConfigError, match='--cfg-options') as err:
        check(tmp_path, '', {option: 0})
    assert needle in str(err.value)


def test_extra_keys_escape_hatch(tmp_path):
    text = "my_plugin_cfg = dict(a=1)\nrandomnes = dict(seed=3)\n"
    assert check(tmp_path, text + f"{EXTRA_KEYS} = ['my_plugin_cfg', "
                 "'randomnes']\n") == []
    with pytest.raises(StrictConfigError, match=EXTRA_KEYS):
        check(tmp_path, f"{EXTRA_KEYS} = 'randomnes'\n")


@pytest.mark.parametrize('key,value,replacement', [
    ('lr_config', "dict(policy='step', step=[8, 11])", 'param_scheduler'),
    ('checkpoint_config', 'dict(interval=3)', 'default_hooks.checkpoint'),
    ('runner', "dict(type='EpochBasedRunner', max_epochs=3)", 'train_cfg'),
    ('optimizer', "dict(type='SGD', lr=0.5)", 'optim_wrapper.optimizer'),
])
def test_mmdet_2_keys_name_what_replaced_them(tmp_path, key, value,
                                              replacement):
    with pytest.raises(StrictConfigError, match='2.x') as err:
        check(tmp_path, f'{key} = {value}\n')
    assert replacement in str(err.value)


def test_a_2x_name_used_as_a_helper_is_accepted(tmp_path):
    assert check(tmp_path, '''
        optimizer = dict(type='SGD', lr=0.5)
        optim_wrapper = dict(optimizer=optimizer)
        ''') == []


@pytest.mark.parametrize('text,needle', [
    ('train_cfg = dict(max_epoch=3)', 'train_cfg.max_epoch: '
     'EpochBasedTrainLoop does not read `max_epoch` (did you mean '
     '`max_epochs`?)'),
    ("train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', "
     'max_iters=9, val_intervals=3)', 'IterBasedTrainLoop does not read '
     '`val_intervals`'),
    ('val_cfg = dict(fp61=True)', 'ValLoop does not read `fp61`'),
    ('optim_wrapper = dict(clip_grads=dict(max_norm=1))',
     'OptimWrapper does not read `clip_grads` (did you mean `clip_grad`?)'),
    ("optim_wrapper = dict(type='AmpOptimWrapper', loss_scal='dynamic')",
     'AmpOptimWrapper does not read `loss_scal`'),
    ('optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mul=0.))',
     'paramwise_cfg.norm_decay_mul'),
    ('randomness = dict(sed=1)', 'Runner.set_randomness does not read '
     '`sed`'),
    ('default_hooks = dict(checkpoint=dict(intreval=2))',
     'default_hooks.checkpoint.intreval: CheckpointHook does not read '
     '`intreval` (did you mean `interval`?)'),
    ("custom_hooks = [dict(type='EMAHook', begin_iters=3)]",
     'custom_hooks[0].begin_iters: EMAHook does not read `begin_iters` '
     '(did you mean `begin_iter`?)'),
    ("custom_hooks = [dict(type='EmptyCacheHook', zzz=1)]",
     'custom_hooks[0].zzz: EmptyCacheHook does not read `zzz`; it reads: '
     'after_epoch, after_iter, before_epoch'),
])
def test_nested_keys_are_checked_against_the_class_signature(
        tmp_path, text, needle):
    with pytest.raises(StrictConfigError) as err:
        check(tmp_path, text + '\n')
    assert needle in str(err.value)


def test_nested_keys_that_the_classes_take_pass(tmp_path):
    assert check(tmp_path, '''
        train_cfg = dict(val_begin=2, dynamic_intervals=[(3, 1)])
        optim_wrapper = dict(clip_grad=dict(max_norm=1),
                             accumulative_counts=2,
                             paramwise_cfg=dict(norm_decay_mult=0.,
                                                custom_keys=dict()))
        randomness = dict(seed=1, deterministic=True, diff_rank_seed=True)
        default_hooks = dict(
            checkpoint=dict(interval=2, save_best='auto', priority=80),
            logger=dict(type='LoggerHook', interval=5))
        custom_hooks = [dict(type='EMAHook', momentum=0.001)]
        ''') == []


class _Base:

    def __init__(self, a, b=1):
        pass


class _Passes(_Base):

    def __init__(self, c=0, **kwargs):
        super().__init__(**kwargs)


class _Keeps(_Base):

    def __init__(self, c=0, **kwargs):
        self.kwargs = kwargs


def test_accepted_args_follows_kwargs_to_the_base():
    assert accepted_args(_Passes) == ({'a', 'b', 'c'}, False)
    assert accepted_args(_Keeps) == ({'c'}, True)
    assert accepted_args(_Base) == ({'a', 'b'}, False)


SHIPPED = sorted(p for p in glob.glob(f'{REPO}/configs/**/*.py',
                                      recursive=True)
                 if '_base_' not in p)


def test_every_shipped_config_passes():
    """Every config under configs/ (not the _base_ fragments), loaded as
    the tools load it (named students / teachers expanded)."""
    from nd_mmdet.utils.entrypoint import load_config
    assert len(SHIPPED) > 150
    failed = []
    for path in SHIPPED:
        try:
            load_config(path)
        except ValueError as err:
            failed.append(f'{path}: {err}')
    assert not failed, failed


#: Installed package configs with keys that nothing reads (found by this
#: checker over all 1,365 configs of mmdet 3 / mmpretrain 1; the other
#: 1,336 that load pass): the error each gives.
UPSTREAM_DEAD_KEYS = {
    'mmpretrain::hornet/hornet-tiny_8xb128_in1k.py': '`data` is an '
    'MMDetection 2.x setting',
    'mmpretrain::twins/twins-svt-small_8xb128_in1k.py':
    'optim_wrapper.paramwise_cfg._delete: DefaultOptimWrapperConstructor '
    'does not read `_delete`',
    'mmdet::solov2/solov2-light_r18_fpn_ms-3x_coco.py':
    'train_cfg.by_epoch: EpochBasedTrainLoop does not read `by_epoch`',
}


#: Every installed package config that fails the check (same scan).
UPSTREAM_FAULTY = {
    'guided_anchoring/ga-fast-rcnn_r50-caffe_fpn_1x_coco.py',
    'hornet/hornet-base-gf_8xb64_in1k.py',
    'hornet/hornet-base_8xb64_in1k.py',
    'hornet/hornet-small-gf_8xb64_in1k.py',
    'hornet/hornet-small_8xb64_in1k.py',
    'hornet/hornet-tiny-gf_8xb128_in1k.py',
    'hornet/hornet-tiny_8xb128_in1k.py',
    'maskfeat/benchmarks/vit-base-p16_8xb256-coslr-100e_in1k.py',
    'solov2/solov2-light_r18_fpn_ms-3x_coco.py',
    'solov2/solov2-light_r34_fpn_ms-3x_coco.py',
    'solov2/solov2-light_r50-dcn_fpn_ms-3x_coco.py',
    'solov2/solov2-light_r50_fpn_ms-3x_coco.py',
    'twins/twins-pcpvt-base_8xb128_in1k.py',
    'twins/twins-pcpvt-large_16xb64_in1k.py',
    'twins/twins-pcpvt-small_8xb128_in1k.py',
    'twins/twins-svt-base_8xb128_in1k.py',
    'twins/twins-svt-large_16xb64_in1k.py',
    'twins/twins-svt-small_8xb128_in1k.py',
    'vision_transformer/vit-base-p16_4xb544-ipu_in1k.py',
}


def _package_configs(package):
    import importlib.util
    root = importlib.util.find_spec(package).submodule_search_locations[0]
    return root, sorted(glob.glob(osp.join(root, '.mim', 'configs', '*',
                                           '*.py')))


@pytest.mark.parametrize('name,needle', sorted(UPSTREAM_DEAD_KEYS.items()))
def test_upstream_configs_with_dead_keys_are_caught(name, needle):
    """Real silent faults of upstream configs: a 2.x ``data`` dict, a
    ``_delete`` (for ``_delete_``) that merges instead of replacing, and
    ``by_epoch`` beside the base's loop ``type``."""
    package, path = name.split('::')
    root, _ = _package_configs(package)
    with pytest.raises(StrictConfigError) as err:
        check_config_keys(Config.fromfile(osp.join(root, '.mim', 'configs',
                                                   path)))
    assert needle in str(err.value)


def test_mmdet_and_mmpretrain_package_configs_pass():
    """A sample of the installed packages' own configs (top-level and
    nested keys; loading only, nothing is built), the upstream faults
    found by the full scan left out."""
    checked = 0
    for package in ('mmdet', 'mmpretrain'):
        _, paths = _package_configs(package)
        for path in paths[::max(1, len(paths) // 40)]:
            if path.split('.mim/configs/')[1] in UPSTREAM_FAULTY:
                continue
            try:
                cfg = Config.fromfile(path)
            except Exception:  # noqa: BLE001 (a config needing extras)
                continue
            check_config_keys(cfg)
            checked += 1
    assert checked >= 60
