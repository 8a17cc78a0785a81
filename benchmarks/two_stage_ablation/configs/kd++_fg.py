# KD++ with ND on the foreground RoIs only (background label K = 3 left out)
_base_ = ['./kd++.py']
model = dict(distill_losses=dict(loss_nd=dict(ignore_index=3)))
