"""nd_mmdet_startup in this process: the finder runs each hook once at the
right moment and steps aside; each hook does what it says and nothing
else."""
import logging
import os.path as osp
import sys
import types

import mmengine.config.utils as config_utils
import mmengine.logging
import pytest

import nd_mmdet_startup as startup


def write_module(folder, name, body='VALUE = 1\n'):
    with open(osp.join(folder, f'{name}.py'), 'w') as f:
        f.write(body)


@pytest.fixture
def probe_modules(tmp_path, monkeypatch):
    """Two importable modules of a fresh name each; removed afterwards."""
    names = ('nd_startup_probe_before', 'nd_startup_probe_around')
    for name in names:
        write_module(str(tmp_path), name)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield names
    for name in names:
        sys.modules.pop(name, None)


def test_finder_runs_each_hook_once_then_steps_aside(probe_modules):
    before_name, around_name = probe_modules
    calls = []

    def before():
        calls.append(('before', before_name in sys.modules))

    def around(module, run):
        calls.append(('enter', hasattr(module, 'VALUE')))
        run()
        calls.append(('exit', module.VALUE))

    finder = startup.StartupFinder({before_name: before},
                                   {around_name: around})
    sys.meta_path.insert(0, finder)
    try:
        module = __import__(around_name)
        assert calls == [('enter', False), ('exit', 1)]
        # the module's own loader again (reloads, introspection)
        assert not isinstance(module.__loader__, startup._HookedLoader)
        assert module.__spec__.loader is module.__loader__
        assert finder in sys.meta_path  # one hook left
        __import__(before_name)
        assert calls[2:] == [('before', False)]
        assert finder not in sys.meta_path
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)


def test_finder_leaves_other_modules_alone(probe_modules):
    finder = startup.StartupFinder({'not_imported_here': lambda: None}, {})
    assert finder.find_spec(probe_modules[0]) is None
    assert list(finder.before_find) == ['not_imported_here']


def test_config_package_accepts_nd_mmdet_paths_only():
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    startup.register_config_package()
    wrapped = config_utils._get_package_and_cfg_path
    get_cfg_path = config_module.Config._get_cfg_path
    startup.register_config_package()  # idempotent: no second wrapper
    assert config_utils._get_package_and_cfg_path is wrapped
    assert config_module.Config._get_cfg_path is get_cfg_path
    assert config_module._get_package_and_cfg_path is wrapped
    assert hub_module._get_package_and_cfg_path is wrapped
    assert wrapped('nd_mmdet::cifar100/kd++/a.py') == ('nd_mmdet',
                                                       'cifar100/kd++/a.py')
    assert wrapped('mmdet::retinanet/r.py') == ('mmdet', 'retinanet/r.py')
    with pytest.raises(AssertionError, match='unknown_pkg'):
        wrapped('unknown_pkg::a/b.py')
    # not in MODULE2PACKAGE: mmengine's registries would then call
    # nd_mmdet.utils.register_all_modules, which nd_mmdet does not have
    assert 'nd_mmdet' not in config_utils.MODULE2PACKAGE


def test_nd_mmdet_bases_are_read_without_a_scope_stamp():
    from mmengine.config import Config
    startup.register_config_package()
    name = 'cifar100/kd++/kd++_resnet56-resnet20_cifar100.py'
    path, scope = Config._get_cfg_path('nd_mmdet::' + name, 'user.py')
    assert scope is None
    assert path.endswith(osp.join('nd_mmdet', '.mim', 'configs', name))
    mmdet_path, mmdet_scope = Config._get_cfg_path(
        'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'user.py')
    assert mmdet_scope == 'mmdet' and osp.isfile(mmdet_path)


def test_print_log_keeps_debug_messages_out_of_stdout(capsys):
    original = mmengine.logging.print_log
    module = types.ModuleType('some.datasets')
    def run():
        from mmengine.logging import print_log
        print_log('hidden at debug', level=logging.DEBUG)
        print_log('shown at info', level=logging.INFO)

    startup._print_log_at_its_level(module, run)
    assert mmengine.logging.print_log is original
    out = capsys.readouterr().out
    assert 'hidden at debug' not in out and 'shown at info' in out


def test_mim_installed_path_is_the_package_folder_with_mim(
        tmp_path, monkeypatch):
    package = tmp_path / 'nd_startup_probe_pkg'
    (package / '.mim').mkdir(parents=True)
    (package / '__init__.py').write_text('')
    monkeypatch.syspath_prepend(str(tmp_path))
    guess = str(tmp_path / '__pycache__')
    utils = types.SimpleNamespace(
        get_installed_path=lambda name: guess,
        package2module=lambda name: name)
    startup._fix_mim_installed_path(utils)
    fixed = utils.get_installed_path
    startup._fix_mim_installed_path(utils)  # idempotent
    assert utils.get_installed_path is fixed
    assert utils.get_installed_path('nd_startup_probe_pkg') == str(package)
    # a module without .mim keeps mim's own answer
    assert utils.get_installed_path('json') == guess


def test_install_is_off_with_the_environment_variable(monkeypatch):
    monkeypatch.setenv('ND_MMDET_NO_STARTUP', '1')
    before = list(sys.meta_path)
    assert startup.install() is None
    assert sys.meta_path == before


def test_install_runs_once_per_process():
    # the .pth ran it at start-up (or `import nd_mmdet` did)
    assert startup._installed
    before = list(sys.meta_path)
    assert startup.install() is None
    assert sys.meta_path == before
