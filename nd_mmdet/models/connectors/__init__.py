"""Student-side connectors, registered in :data:`nd_mmdet.registry.MODELS`."""
from .abf_fusion import ABF, ReviewKDConnector
from .embedding_projector import EmbeddingProjector

__all__ = ['ABF', 'ReviewKDConnector', 'EmbeddingProjector']
