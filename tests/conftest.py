"""Shared test set-up: one thread (small models run far faster than with two
threads on a loaded machine) and tiny datasets written by the tests."""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')

import pytest  # noqa: E402
import torch  # noqa: E402

import nd_mmdet  # noqa: E402,F401  (compat before torchvision)
from tests.tiny_data import write_tiny_cifar100  # noqa: E402
from tests.tools_runner import cifar_options, run_tool  # noqa: E402

torch.set_num_threads(1)


def _restoring_default_scope():
    """Generator body of the scope fixtures: restore mmengine's default
    scopes to what they were when it started."""
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture(autouse=True)
def isolated_default_scope():
    """Each test starts with the default scope it found: mmengine makes the
    last DefaultScope created the current one, which would leak a package's
    scope from one test into the registry look-ups of the next."""
    yield from _restoring_default_scope()


@pytest.fixture(scope='module', autouse=True)
def module_default_scope():
    """The same for each module, around its module-scoped set-up (autouse
    fixtures of a scope are set up before the others of that scope): a
    module fixture that sets the default scope ('mmdet' for a detector it
    builds) must not change what the next module's tests find. Without it
    the suite passed only in the order of one process; under ``-n 2`` the
    registry tests of the connectors ran after such a module and looked
    ``ReviewKDConnector`` up in mmdet's registry."""
    yield from _restoring_default_scope()


@pytest.fixture(scope='session')
def tiny_cifar_root(tmp_path_factory):
    """A cifar-100-python folder with 64 train / 32 test images of 4
    classes (labels 0..3 of the 100), each class a distinct colour."""
    root = tmp_path_factory.mktemp('cifar100')
    write_tiny_cifar100(str(root), num_train=64, num_test=32, num_classes=4)
    return str(root)


@pytest.fixture(scope='session')
def tiny_cifar_teacher(tiny_cifar_root, tmp_path_factory):
    """A ResNet-56 CIFAR-100 classifier trained one epoch on the tiny data
    through tools/train.py; returns its checkpoint path. LR 0.01: at the
    config's 0.1, four steps leave BatchNorm statistics that give eval-mode
    embeddings of norm ~1e9 (an exploded teacher, which TrainingHealthHook
    rightly refuses to distil); at 0.01 they are ~250."""
    work = tmp_path_factory.mktemp('teacher')
    run_tool('train.py', 'configs/cifar100/classifiers/resnet56_cifar100.py',
             '--work-dir', work, *cifar_options(tiny_cifar_root),
             'optim_wrapper.optimizer.lr=0.01')
    return str(work / 'epoch_1.pth')
