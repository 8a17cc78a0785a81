"""The nd_mmdet registries: children of mmengine's roots, scope nd_mmdet,
able to name MMDetection / MMPretrain modules by scope prefix."""
from mmengine.registry import DefaultScope

from nd_mmdet import registry


def test_children_of_mmengine_roots_with_our_scope():
    for name in ('MODELS', 'HOOKS', 'DATASETS', 'TRANSFORMS', 'METRICS',
                 'LOOPS'):
        child = getattr(registry, name)
        assert child.scope == 'nd_mmdet'
        assert child.parent is not None and child.parent.scope == 'mmengine'


def test_default_scope_nd_mmdet_names_other_packages():
    with DefaultScope.overwrite_default_scope('nd_mmdet'):
        from mmdet.models import FasterRCNN
        from mmpretrain.models import ImageClassifier
        assert registry.MODELS.get('mmdet.FasterRCNN') is FasterRCNN
        assert registry.MODELS.get(
            'mmpretrain.ImageClassifier') is ImageClassifier
        assert registry.MODELS.get('NDLoss').__module__ == \
            'nd_mmdet.models.losses.nd_loss'
        assert registry.HOOKS.get('ClassCentersHook') is not None
        assert registry.DATASETS.get('CIFAR100').__module__ == \
            'nd_mmdet.datasets.cifar100'
        assert registry.MODELS.get('NoSuchThing') is None
