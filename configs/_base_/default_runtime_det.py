# Runtime of detection runs: MMDetection's default runtime (default_scope
# 'mmdet', DetVisualizationHook, checkpoint every epoch) plus our modules,
# named with the `nd_mmdet.` scope prefix or `_scope_='nd_mmdet'`.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['nd_mmdet'], allow_failed_imports=False)
