"""Where each one-stage head family keeps its classification values, for
:class:`DenseDistiller`: one small adapter per head type, so that a family
is added with one table entry, without touching the others.

An adapter says

- ``layout``: how the head flattens the labels its ``loss_cls`` receives:
  ``'per_level'`` (one call per FPN level, ``(N*H*W*A,)`` in
  ``permute(0, 2, 3, 1)`` order, anchor-minor: ``AnchorHead`` / ``ATSSHead``
  / ``GFLHead`` / ``RTMDetHead``) or ``'concat'`` (one call, the levels
  concatenated level-major, each level in that order: ``AnchorFreeHead``,
  i.e. FCOS). A ``(labels, quality)`` target (GFL's and RTMDet's quality
  focal loss) is read for its labels;
- ``classifier``: the attribute of the final class-score conv, whose input
  is the embedding map;
- ``per_level_branch``: whether the classification branch and classifier
  are module lists indexed by level (``RTMDetSepBNHead``: per-level BN, so
  ``cls_convs[level]`` and ``rtm_cls[level]``) instead of one set of
  modules shared by every level.
"""
from mmdet.models.dense_heads import (ATSSHead, FCOSHead, GFLHead,
                                      RetinaHead, RTMDetHead,
                                      RTMDetSepBNHead)


class DenseHeadAdapter:
    """The classification branch of one head family (see the module doc).

    Args:
        layout (str): ``'per_level'`` or ``'concat'``.
        classifier (str): attribute name of the final class-score conv.
        per_level_branch (bool): ``cls_convs`` and the classifier are
            indexed by level.
    """

    def __init__(self, layout, classifier, per_level_branch=False):
        assert layout in ('per_level', 'concat'), layout
        self.layout = layout
        self.classifier = classifier
        self.per_level_branch = per_level_branch

    def classifier_paths(self, head, prefix='bbox_head'):
        """Module paths of the classifier(s) whose input is the embedding
        map, one per call in level order."""
        if self.per_level_branch:
            return [f'{prefix}.{self.classifier}.{level}'
                    for level in range(len(getattr(head, self.classifier)))]
        return [f'{prefix}.{self.classifier}']

    def classifier_module(self, head, level):
        module = getattr(head, self.classifier)
        return module[level] if self.per_level_branch else module

    def embed_width(self, head):
        """Channels of the classification-branch feature (the classifier's
        input), the same on every level."""
        return self.classifier_module(head, 0).in_channels

    def cls_branch(self, head, level, x):
        """The classification feature of FPN level ``level`` from its neck
        map ``x``."""
        convs = head.cls_convs[level] if self.per_level_branch else \
            head.cls_convs
        for conv in convs:
            x = conv(x)
        return x

    def class_scores(self, head, level, cls_feat):
        return self.classifier_module(head, level)(cls_feat)


#: Head type -> adapter. Exact types: a subclass may compute its
#: classification loss otherwise (TOOD subclasses ATSSHead).
HEAD_ADAPTERS = {
    RetinaHead: DenseHeadAdapter('per_level', 'retina_cls'),
    ATSSHead: DenseHeadAdapter('per_level', 'atss_cls'),
    GFLHead: DenseHeadAdapter('per_level', 'gfl_cls'),
    FCOSHead: DenseHeadAdapter('concat', 'conv_cls'),
    RTMDetHead: DenseHeadAdapter('per_level', 'rtm_cls'),
    RTMDetSepBNHead: DenseHeadAdapter('per_level', 'rtm_cls',
                                      per_level_branch=True),
}
