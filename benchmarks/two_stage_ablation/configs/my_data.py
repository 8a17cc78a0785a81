_base_ = ['nd_mmdet::demo/dense/_base_/fashion_mnist_det.py']
classes = ('Trouser', 'Sneaker', 'Bag')
data_root = 'data/fmnist3/'
metainfo = dict(classes=classes)
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
