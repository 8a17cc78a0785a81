"""Student-side connectors, registered in :data:`nd_mmdet.registry.MODELS`."""
from .abf_fusion import ABF, ReviewKDConnector
from .conv_bn_connector import ConvBNConnector
from .embedding_projector import EmbeddingProjector
from .per_level_projector import PerLevelProjector

__all__ = [
    'ABF', 'ReviewKDConnector', 'ConvBNConnector', 'EmbeddingProjector',
    'PerLevelProjector'
]
