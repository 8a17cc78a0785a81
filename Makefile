# The commands of the README. Each installs what is missing first
# (scripts/install.sh is idempotent: seconds when nothing changed).
PY := .venv/bin/python

.PHONY: install test demo demo-dense demo-dense-fcos demo-dense-gfl \
	demo-neck demo-neck-rtmdet demo-neck-fcos-retinanet demo-two-stage

install:
	bash scripts/install.sh

# Two pytest processes (pytest-xdist), one per core of the project's
# machine; a test file stays in one process (its module fixtures run once).
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile

demo:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py

demo-dense:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task dense

demo-dense-fcos:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task dense-fcos

demo-dense-gfl:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task dense-gfl

demo-neck:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task neck

demo-neck-rtmdet:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task neck-rtmdet

demo-neck-fcos-retinanet:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task neck-fcos-retinanet

demo-two-stage:
	bash scripts/install.sh --demo
	OMP_NUM_THREADS=1 $(PY) tools/demo.py --task two-stage
