#!/usr/bin/env bash
# md5 fingerprints of what the passes produce: the small CNN trained a few
# steps (fp32; QAT per-tensor + StatAssist + GradBoost + target-exact +
# frozen batch norms; QAT per-channel uint7), on one and two threads, and the
# int8 programs qat-compile makes of the QAT model for every target. A
# refactoring that changes no numerics leaves every line the same:
#   utils/fingerprints.sh /tmp/before; (change); utils/fingerprints.sh /tmp/after
#   diff /tmp/before/md5 /tmp/after/md5
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${QAT_BUILD_DIR:-$root/build}/bin
out=${1:?usage: fingerprints.sh OUTPUT_DIR}
mkdir -p "$out"
cd "$out"
PYTHONPATH="$root/python" /usr/bin/python3 -c "
import torch; from qat_mlir import models
torch.manual_seed(0)
torch.jit.trace(models.SmallCNN().train(), torch.zeros(50, 1, 28, 28)).save('cnn.pt')"
"$bin/qat-import" cnn.pt --mode train --input-shape 50x1x28x28 -o cnn.mlir
common=(--train-limit 1000 --test-limit 500 --no-progress --seed 3)
for threads in 1 2; do
  "$bin/qat-train" cnn.mlir "${common[@]}" --epochs 1 --num-threads $threads \
    -o fp32-t$threads.mlir > /dev/null
  "$bin/qat-train" cnn.mlir "${common[@]}" --qconfig per-tensor --target-exact \
    --fp-warmup-epochs 1 --epochs 3 --freeze-bn-after-epochs 1 --grad-boost \
    --num-threads $threads -o qat-t$threads.mlir > /dev/null
  "$bin/qat-train" cnn.mlir "${common[@]}" --qconfig per-channel \
    --qconfig-activations uint7 --epochs 1 --momentum 0.9 --nesterov \
    --num-threads $threads -o qat-pc-t$threads.mlir > /dev/null
done
for target in $("$bin/qat-compile" --print-targets | awk '{print ($1 ~ /^x86|^aarch/) ? $1 : $2}'); do
  "$bin/qat-compile" qat-t1.mlir --target=$target --emit=llvm -o int8-$target.ll
  "$bin/qat-compile" qat-pc-t1.mlir --target=$target --batch 1 --emit=llvm -o int8-pc-b1-$target.ll
done
"$bin/qat-compile" qat-t1.mlir --keep-float --target=x86_64-generic --emit=llvm -o f32.ll
md5sum *.mlir *.ll > md5
cat md5
