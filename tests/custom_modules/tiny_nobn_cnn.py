"""A user's own backbone, registered from outside nd_mmdet and loaded with
``custom_imports`` (as a user extends the toolkit). No BatchNorm, so DDP and
single-process training follow the same trajectory."""
from mmengine.model import BaseModule
from torch import nn

from nd_mmdet.registry import MODELS


@MODELS.register_module()
class TinyNoBNCNN(BaseModule):
    """(N, 3, 32, 32) -> ((N, width, 8, 8), )"""

    def __init__(self, width=64, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, width, 3, stride=2, padding=1), nn.ReLU())

    def forward(self, x):
        return (self.net(x), )
