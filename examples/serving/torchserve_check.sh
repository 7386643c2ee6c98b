#!/usr/bin/env bash
# The TorchServe recipe of docs/serving.md, run for real: TorchServe 0.12.0 on
# 127.0.0.1 with the project's handler (examples/serving/torchserve_handler.py)
# serving a scripted model with an Optional[Tensor] argument.
#
#   make build && bash examples/serving/torchserve_check.sh
#
# A venv under build/torchserve/ (torch of the checkout's build, torchserve,
# torch-model-archiver, pyyaml: TorchServe does not install it, its workers
# die without it), the checkout on its path (the in-place build), then:
# archive the model, start TorchServe with token authorization off (0.12
# enforces it by default), send requests with and without the mask, check
# the answers against eager, and read the handler's torch_optspec line from
# the worker log. Needs Java 11+ (TorchServe's frontend); without it, says so
# and exits 0 having checked nothing else. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=${TORCHSERVE_CHECK_DIR:-$ROOT/build/torchserve}
PORT=${TORCHSERVE_PORT:-18080}
MGMT_PORT=$((PORT + 1))
METRICS_PORT=$((PORT + 2))

if ! command -v java >/dev/null 2>&1; then
  echo "torchserve_check: no java on PATH (TorchServe's frontend needs Java 11+): skipped"
  exit 0
fi
if [[ ! -f torch_optspec/_build_info.py ]]; then
  echo "torchserve_check: build the package first (make build)" >&2
  exit 1
fi
BUILD_PY=${VENV:-.venv}/bin/python   # the environment the checkout was built in (make build)
TORCH=$("$BUILD_PY" -c "import torch; print(torch.__version__.split('+')[0])")

mkdir -p "$WORK"
TS_VENV=$WORK/venv
if [[ ! -f $TS_VENV/.deps ]]; then
  python3 -m venv "$TS_VENV"
  "$TS_VENV/bin/pip" install --quiet --upgrade pip
  "$TS_VENV/bin/pip" install --quiet --no-deps --no-index "torch==$TORCH" 2>/dev/null \
    || "$TS_VENV/bin/pip" install --quiet --no-deps "torch==$TORCH" --extra-index-url https://download.pytorch.org/whl/cpu
  "$TS_VENV/bin/pip" install --quiet "torch==$TORCH" torchserve==0.12.0 torch-model-archiver==0.12.0 pyyaml numpy
  touch "$TS_VENV/.deps"
fi
SITE=$("$TS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ROOT" >"$SITE/torch_optspec-dev.pth"
export PATH=$TS_VENV/bin:$PATH

# the model: scripted, an Optional[Tensor] argument, and its expected outputs
rm -rf "$WORK/model_store" "$WORK/logs" "$WORK/expected.json"
mkdir -p "$WORK/model_store"
python - "$WORK" "$ROOT/examples/serving" <<'EOF'
import json, os, sys
sys.path.insert(0, sys.argv[2])
import torch
from masked_model import Masked  # a file: torch.jit.script reads the model's source

work = sys.argv[1]
torch.manual_seed(0)
model = Masked().eval()
torch.jit.save(torch.jit.script(model), os.path.join(work, "masked.pt"))
ids, mask = [[1, 5, 7, 3]], [[1, 1, 1, 0]]
with torch.no_grad():
    expected = {"mask": model(torch.tensor(ids), torch.tensor(mask)).tolist(),
                "none": model(torch.tensor(ids)).tolist()}
json.dump({"ids": ids, "mask": mask, "expected": expected}, open(os.path.join(work, "expected.json"), "w"))
EOF
torch-model-archiver --model-name masked --version 1 --serialized-file "$WORK/masked.pt" \
  --handler examples/serving/torchserve_handler.py --export-path "$WORK/model_store" --force

cat >"$WORK/config.properties" <<EOF
inference_address=http://127.0.0.1:$PORT
management_address=http://127.0.0.1:$MGMT_PORT
metrics_address=http://127.0.0.1:$METRICS_PORT
disable_token_authorization=true
default_workers_per_model=1
EOF
cd "$WORK"
stop() { torchserve --stop >/dev/null 2>&1 || true; }
trap stop EXIT
torchserve --start --ncs --model-store model_store --models masked=masked.mar \
  --ts-config config.properties --disable-token-auth >"$WORK/torchserve.out" 2>&1

ready=0
for _ in $(seq 1 120); do
  ping=$(curl -sf "http://127.0.0.1:$PORT/ping" || true)
  # the model is registered once its worker is up
  model=$(curl -sf "http://127.0.0.1:$MGMT_PORT/models/masked" || true)
  if [[ $ping == *Healthy* && $model == *'"status": "READY"'* ]]; then
    ready=1
    break
  fi
  sleep 1
done
if [[ $ready != 1 ]]; then
  echo "torchserve_check: TorchServe or its worker not ready after 120 s (see $WORK/logs)" >&2
  exit 1
fi

python - "$PORT" <<'EOF'
import json, sys, urllib.request
port = sys.argv[1]
data = json.load(open("expected.json"))

def predict(body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/predictions/masked",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))

def close(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return abs(a - b) <= 1e-5

for i in range(6):  # alternating: the first two calls of each pattern profile and optimize
    with_mask = i % 4 < 2
    body = {"input_ids": data["ids"]}
    if with_mask:
        body["attention_mask"] = data["mask"]
    out = predict(body)
    want = data["expected"]["mask" if with_mask else "none"]
    assert close(out, want), (i, out, want)
print("torchserve_check: 6 requests (mask given / left out) match eager")
EOF

lines=$(grep -h "torch_optspec" logs/model_log.log || true)
tail -3 <<<"$lines"
if ! [[ $lines =~ specialized\ [1-9] ]]; then
  echo "torchserve_check: the handler's log shows no specialized graph" >&2
  exit 1
fi
echo "torchserve_check: ok (TorchServe 0.12.0, torch $TORCH)"
