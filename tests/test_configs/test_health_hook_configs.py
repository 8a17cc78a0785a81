"""Every shipped distillation config (COCO, CIFAR-100, ImageNet and the
demos) runs the training-health monitor (``nd_mmdet.TrainingHealthHook``)
once, with its documented defaults; configs that train a model alone do not
(they have no distillation loss to watch)."""
from mmengine.config import Config

from tests.test_configs.test_reseed_hook import is_distiller, top_level_configs

HEALTH = 'nd_mmdet.TrainingHealthHook'


def test_every_distillation_config_has_the_health_hook():
    seen = {True: 0, False: 0}
    for folder in ('coco', 'cifar100', 'imagenet', 'demo'):
        for path in top_level_configs(folder):
            cfg = Config.fromfile(path)
            distiller = is_distiller(cfg)
            seen[distiller] += 1
            hooks = [h for h in cfg.get('custom_hooks', [])
                     if h['type'] == HEALTH]
            assert len(hooks) == int(distiller), (path, hooks)
            assert all(h == dict(type=HEALTH) for h in hooks), path
    # 153 distillers today, and models trained alone: both were seen
    assert seen[True] >= 140 and seen[False] > 0, seen
