"""Small shared helpers: model building from specs, safe loading, checks."""
from .model_spec import build_model_from_spec, load_model_config
from .safe_load import file_digest, load_state_dict_safely, safe_torch_load

__all__ = [
    'build_model_from_spec', 'load_model_config', 'safe_torch_load',
    'load_state_dict_safely', 'file_digest'
]
