"""Fault catalogue through tools/train.py: config keys that nothing reads
(typos at the top level, through --cfg-options, in nested dicts, MMDetection
2.x keys) and checkpoints that load nothing (load_from of a plain student or
the teacher on a distiller, a Pretrained init with another key layout)."""
import os
import textwrap

import pytest
import torch

from tests.test_reliability.tool_call import assert_one_error
from tests.tools_runner import REPO, cifar_options, run_tool

KDPP = 'configs/cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
STUDENT_CFG = 'configs/cifar100/classifiers/resnet20_cifar100.py'


def _user_config(tmp_path, text):
    """A user's config on top of the KD++ config."""
    path = tmp_path / 'my_kdpp.py'
    path.write_text(f"_base_ = ['{REPO}/{KDPP}']\n" + textwrap.dedent(text))
    return path


def _train(tool, config, work_dir, root, teacher, *options):
    return tool('train.py', config, '--work-dir', work_dir,
                *cifar_options(root), f'model.teacher_ckpt={teacher}',
                *options)


def _no_checkpoint(work_dir):
    return not os.path.isdir(work_dir) or not [
        f for f in os.listdir(work_dir) if f.endswith('.pth')]


@pytest.mark.parametrize('text,needles', [
    ('randomnes = dict(seed=1)', ['`randomnes`', '`randomness`']),
    ('train_cfgg = dict(max_epochs=2)', ['`train_cfgg`', '`train_cfg`']),
    ("optim_wraper = dict(optimizer=dict(type='SGD', lr=0.5))",
     ['`optim_wraper`', '`optim_wrapper`']),
    ("custom_hook = [dict(type='EmptyCacheHook')]",
     ['`custom_hook`', '`custom_hooks`']),
    ("lr_config = dict(policy='step', step=[1])",
     ['`lr_config`', '2.x', 'param_scheduler']),
])
@pytest.mark.clear_error
def test_a_top_level_typo_in_a_user_config(tool, tiny_cifar_root,
                                           tiny_cifar_teacher, tmp_path,
                                           text, needles):
    config = _user_config(tmp_path, text + '\n')
    result = _train(tool, config, tmp_path / 'run', tiny_cifar_root,
                    tiny_cifar_teacher)
    assert_one_error(result, *needles)
    assert _no_checkpoint(tmp_path / 'run')


@pytest.mark.parametrize('option,needles', [
    ('randomnes.seed=1', ['--cfg-options randomnes', '`randomness`']),
    ('max_epochs=2', ['--cfg-options max_epochs', 'changes nothing']),
    ('train_cfgg.max_epochs=2', ['--cfg-options train_cfgg',
                                 '`train_cfg`']),
    ('train_cfg.max_epoch=2', ['train_cfg.max_epoch', '`max_epochs`']),
    ('optim_wrapper.clip_grads.max_norm=1',
     ['optim_wrapper.clip_grads', '`clip_grad`']),
    ('optim_wrapper.paramwise_cfg.norm_decay_mul=0',
     ['paramwise_cfg.norm_decay_mul', '`norm_decay_mult`']),
    ('randomness.sed=1', ['randomness.sed', '`seed`']),
    ('default_hooks.checkpoint.intreval=2',
     ['default_hooks.checkpoint.intreval', 'CheckpointHook', '`interval`']),
    ('custom_hooks.0.max_iter=3',
     ['custom_hooks[0].max_iter', 'ClassCentersHook', '`max_iters`']),
    ('model.teacher_ckp=x.pth',
     ['model.teacher_ckp', 'ClassificationDistiller', '`teacher_ckpt`']),
])
@pytest.mark.clear_error
def test_a_typo_through_cfg_options(tool, tiny_cifar_root, tiny_cifar_teacher,
                                    tmp_path, option, needles):
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher, option)
    assert_one_error(result, *needles)
    assert _no_checkpoint(tmp_path)


def _student_params(state_dict, prefix=''):
    """Conv / linear weights (trainable: unchanged by lr 0, unlike BN's
    running statistics)."""
    return {k[len(prefix):]: v for k, v in state_dict.items()
            if k.startswith(prefix) and k.endswith('weight') and v.dim() > 1}


@pytest.mark.survived
def test_helper_variables_train_as_the_values_they_build(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path):
    """A helper close to a known name (``base_lrs`` ~ ``base_lr``) that
    builds a value, and one unlike any name: the run equals the run with
    the same values written directly."""
    config = _user_config(tmp_path, '''
        my_note = 'a helper unlike any key'
        base_lrs = 0.037
        optim_wrapper = dict(optimizer=dict(lr=base_lrs))
        ''')
    assert _train(tool, config, tmp_path / 'a', tiny_cifar_root,
                  tiny_cifar_teacher)[0] == 0
    assert _train(tool, KDPP, tmp_path / 'b', tiny_cifar_root,
                  tiny_cifar_teacher, 'optim_wrapper.optimizer.lr=0.037')[0] \
        == 0
    a, b = (torch.load(tmp_path / run / 'epoch_1.pth', weights_only=False)
            for run in ('a', 'b'))
    assert a['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.037)
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key


@pytest.fixture(scope='module')
def plain_student(tiny_cifar_root, tmp_path_factory):
    """A ResNet-20 trained alone one epoch (a plain classifier checkpoint:
    keys ``backbone.*``, ``head.*``)."""
    work = tmp_path_factory.mktemp('student')
    run_tool('train.py', STUDENT_CFG, '--work-dir', work,
             *cifar_options(tiny_cifar_root))
    return str(work / 'epoch_1.pth')


@pytest.mark.clear_error
def test_load_from_a_plain_student_checkpoint(tool, tiny_cifar_root,
                                              tiny_cifar_teacher,
                                              plain_student, tmp_path):
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher, f'load_from={plain_student}')
    assert_one_error(result, plain_student, 'plain checkpoint of the student',
                     'loads 0 of the',
                     'model.student.init_cfg.type=Pretrained')
    assert _no_checkpoint(tmp_path)


@pytest.mark.clear_error
def test_load_from_the_teacher_checkpoint(tool, tiny_cifar_root,
                                          tiny_cifar_teacher, tmp_path):
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher, f'load_from={tiny_cifar_teacher}')
    assert_one_error(result, tiny_cifar_teacher, "the teacher's checkpoint",
                     'model.teacher_ckpt')


@pytest.mark.clear_error
def test_resume_from_the_teacher_checkpoint_says_so(
        tool, tiny_cifar_root, tiny_cifar_teacher, tmp_path):
    result = tool('train.py', KDPP, '--work-dir', tmp_path, '--resume',
                  tiny_cifar_teacher, *cifar_options(tiny_cifar_root),
                  f'model.teacher_ckpt={tiny_cifar_teacher}')
    assert_one_error(result, tiny_cifar_teacher, "the teacher's checkpoint")
    assert "student's weights" not in result[1][0]


@pytest.mark.clear_error
def test_pretrained_backbone_init_with_another_key_layout(
        tool, tiny_cifar_root, tiny_cifar_teacher, plain_student, tmp_path):
    """A whole-classifier checkpoint (keys ``backbone.*``) as the student's
    backbone init without ``prefix``: mmengine alone only warns and trains
    from scratch."""
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher,
                    'model.student.backbone.init_cfg.type=Pretrained',
                    f'model.student.backbone.init_cfg.checkpoint='
                    f'{plain_student}')
    assert_one_error(result, plain_student, 'loads 0 of the',
                     "prefix='backbone.'")
    assert _no_checkpoint(tmp_path)


@pytest.mark.survived
def test_the_advised_student_init_loads_the_plain_checkpoint(
        tool, tiny_cifar_root, tiny_cifar_teacher, plain_student, tmp_path):
    """What the load_from error advises works: with lr 0 the student's
    weights after an epoch are the plain checkpoint's."""
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher, 'optim_wrapper.optimizer.lr=0',
                    'model.student.init_cfg.type=Pretrained',
                    f'model.student.init_cfg.checkpoint={plain_student}')
    assert result[0] == 0, result
    trained = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    plain = torch.load(plain_student, weights_only=False)
    got = _student_params(trained['state_dict'], 'student.')
    want = _student_params(plain['state_dict'])
    assert got.keys() == want.keys() and len(want) > 10
    for key, value in want.items():
        assert torch.equal(got[key], value), key


@pytest.mark.parametrize('option,needles', [
    ('model.distill_losses.loss_nd=None',
     ['model.distill_losses.loss_nd is None', "'type'"]),
    ('model.student.init_cfg=dict(type=Pretrained,checkpoint=x.pth)',
     ['a dict(...) value cannot be parsed',
      'model.student.init_cfg.type=Pretrained '
      'model.student.init_cfg.checkpoint=x.pth']),
])
@pytest.mark.clear_error
def test_options_that_gave_a_traceback(tool, tiny_cifar_root,
                                       tiny_cifar_teacher, tmp_path, option,
                                       needles):
    """A part of the distiller set to None (a TypeError deep in the build)
    and a dict(...) value (a RecursionError in mmengine's parser)."""
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher, option)
    assert_one_error(result, *needles)


@pytest.mark.clear_error
def test_full_disk_during_a_save_is_one_line(tool, tiny_cifar_root,
                                             tiny_cifar_teacher, tmp_path,
                                             monkeypatch):
    """ENOSPC at the first save (the class-centre cache of KD++): one
    line naming the file, nothing written (the writes are atomic)."""
    import errno

    import nd_mmdet.compat

    def full(obj, filepath):
        raise OSError(errno.ENOSPC, 'No space left on device', filepath)

    monkeypatch.setattr(nd_mmdet.compat, 'atomic_write_bytes', full)
    result = _train(tool, KDPP, tmp_path, tiny_cifar_root,
                    tiny_cifar_teacher)
    assert_one_error(result, 'No space left on device', 'class_centers.pth',
                     'intact')
    assert _no_checkpoint(tmp_path)


@pytest.mark.survived
def test_best_record_survives_a_failed_resave(tool, tiny_cifar_root,
                                              tiny_cifar_teacher, tmp_path):
    """Epoch 1 became best, but the re-save of epoch_1.pth that records it
    did not complete (the first save is kept: no best_score / best_ckpt).
    Resumed with lr 0 (epoch 2 scores at most as well, up to BN
    statistics), the best checkpoint stays the best one: one best file,
    whose score is the final record."""
    kd = 'configs/cifar100/kd/kd_resnet56-resnet20_cifar100.py'
    best = ['default_hooks.checkpoint.save_best=accuracy/top1',
            'default_hooks.checkpoint.rule=greater']
    assert _train(tool, kd, tmp_path, tiny_cifar_root, tiny_cifar_teacher,
                  *best)[0] == 0
    epoch_1 = tmp_path / 'epoch_1.pth'
    ckpt = torch.load(epoch_1, weights_only=False)
    info = ckpt['message_hub']['runtime_info']
    assert info.pop('best_ckpt').endswith('best_accuracy_top1_epoch_1.pth')
    first = info.pop('best_score')
    torch.save(ckpt, epoch_1)
    result = tool('train.py', kd, '--work-dir', tmp_path, '--resume',
                  *cifar_options(tiny_cifar_root, epochs=2),
                  f'model.teacher_ckpt={tiny_cifar_teacher}', *best,
                  'optim_wrapper.optimizer.lr=0')
    assert result[0] == 0, result
    files = sorted(f for f in os.listdir(tmp_path) if f.startswith('best_'))
    assert len(files) == 1, files
    final = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)
    record = final['message_hub']['runtime_info']
    assert record['best_ckpt'].endswith(files[0])
    assert record['best_score'] >= first
    kept = torch.load(tmp_path / files[0], weights_only=False)
    assert kept['message_hub']['runtime_info']['best_score'] == \
        record['best_score']


@pytest.mark.parametrize('script', ['test.py', 'compute_class_centers.py'])
@pytest.mark.clear_error
def test_dict_value_in_cfg_options_of_the_other_tools(script, tmp_path):
    """tools/test.py and tools/compute_class_centers.py parse --cfg-options
    like tools/train.py: a dict(...) value is one line with the dotted keys,
    not mmengine's RecursionError (checked at argument parsing, before any
    file is read)."""
    args = [KDPP] + (['missing.pth'] if script == 'test.py' else [])
    proc = run_tool(script, *args, '--cfg-options',
                    'model.student.init_cfg=dict(type=Pretrained,'
                    'checkpoint=x.pth)', check=False)
    errors = [line for line in proc.stdout.splitlines()
              if line.startswith('error:')]
    assert proc.returncode == 1 and len(errors) == 1, proc.stdout
    assert 'Traceback' not in proc.stdout
    assert 'a dict(...) value cannot be parsed' in errors[0]
    assert 'model.student.init_cfg.type=Pretrained ' \
        'model.student.init_cfg.checkpoint=x.pth' in errors[0]
