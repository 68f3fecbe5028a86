#!/usr/bin/env bash
# The device checks, as one script for a lent GPU machine: CUDA tests, exactness of ensembles on
# the GPU, the engine against plain PyTorch, ensembles against one-by-one, and the quickstart
# scan on a GPU worker. Wheels of what the GPU image lacks are expected in .whl/ (see README).
set -u
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site . >/dev/null 2>&1 || echo "could not install overparam's metadata: entry points missing"
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
echo "== CUDA tests"
python3 -m pytest -q -p no:cacheprovider tests/test_rnn.py tests/test_initializers.py tests/test_captured_step.py 2>&1 | tail -3
echo "== ensemble exactness on the GPU"
python3 benchmarks/cuda_exactness.py --dtype float64
python3 benchmarks/cuda_exactness.py --dtype float32
echo "== one training step: engine vs nn.RNN + autograd + SGD"
python3 benchmarks/step_vs_pytorch.py --device cuda --repeats 20
echo "== ensembles vs one by one"
python3 benchmarks/ensemble.py --device cuda --repeats 5
echo "== quickstart on a GPU worker"
( time python3 -m framework.cli.commands run pipelines/quickstart.yaml --store /tmp/quickstart.zarr --progress plain ) 2>&1 | tail -4
