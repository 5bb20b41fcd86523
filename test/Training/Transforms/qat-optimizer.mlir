// RUN: qat-opt --qat-generate-backward --qat-optimizer %s | FileCheck %s
// RUN: qat-opt --qat-generate-backward --qat-optimizer="nesterov=false weight-decay-other=0 momentum=0.5" %s | FileCheck %s --check-prefix=PLAIN
// RUN: qat-opt --qat-generate-backward --qat-optimizer --qat-optimizer="function=again" %s | FileCheck %s --check-prefix=REUSE
// RUN: not qat-opt --qat-optimizer %s 2>&1 | FileCheck %s --check-prefix=NOGRAD
// RUN: not qat-opt --qat-generate-backward --qat-optimizer=momentum=nan %s 2>&1 | FileCheck %s --check-prefix=BADMOMENTUM
// RUN: not qat-opt --qat-generate-backward --qat-optimizer=weight-decay-conv=-1 %s 2>&1 | FileCheck %s --check-prefix=BADDECAY
// BADMOMENTUM: error: --qat-optimizer: momentum must be finite and >= 0, not nan
// BADDECAY: error: --qat-optimizer: weight-decay-conv must be finite and >= 0, not -1

// The momentum buffer of parameter "w" is the state "sgd.momentum.w", kept
// in a zero-initialized mutable global; the buffer "count" is not trained.

// CHECK: ml_program.global private mutable @sgd.momentum.w(dense<0.000000e+00> : tensor<2x4xf32>) : tensor<2x4xf32>
// REUSE-COUNT-1: ml_program.global private mutable @sgd.momentum.w
// REUSE-NOT: ml_program.global

// NOGRAD: error: no function 'loss_and_gradients': run --qat-generate-backward first

ml_program.global private @w(dense<1.0> : tensor<2x4xf32>) : tensor<2x4xf32>

func.func @forward(%w: tensor<2x4xf32> {qat.state = "w", qat.trainable}, %x: tensor<2x4xf32> {qat.input = "x"}) -> tensor<2x4xf32> {
  %0 = tosa.add %w, %x : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    %[[W:.*]]: tensor<2x4xf32> {qat.state = "w", qat.trainable},
// CHECK-SAME:    %[[BUF:.*]]: tensor<2x4xf32> {qat.state = "sgd.momentum.w"},
// CHECK-SAME:    %[[X:.*]]: tensor<2x4xf32> {qat.input = "x"},
// CHECK-SAME:    %[[LABELS:.*]]: tensor<2xi64> {qat.input = "labels"},
// CHECK-SAME:    %[[LR:.*]]: tensor<f32> {qat.input = "learning_rate"})
// CHECK-SAME:    -> (tensor<f32> {qat.output = "loss"}, tensor<2x4xf32> {qat.output = "logits"}, tensor<2x4xf32> {qat.state = "w"}, tensor<2x4xf32> {qat.state = "sgd.momentum.w"})
// CHECK:         %[[R:.*]]:3 = call @loss_and_gradients(%[[W]], %[[X]], %[[LABELS]])
// d = g + 1e-7 * w
// CHECK:         %[[WD:.*]] = "tosa.const"() <{values = dense<1.000000e-07> : tensor<1x1xf32>}>
// CHECK:         %[[DECAY:.*]] = tosa.mul %[[WD]], %[[W]]
// CHECK:         %[[D:.*]] = tosa.add %[[R]]#2, %[[DECAY]]
// buf' = 0.9 * buf + d
// CHECK:         %[[M:.*]] = "tosa.const"() <{values = dense<0.899999976> : tensor<1x1xf32>}>
// CHECK:         %[[MB:.*]] = tosa.mul %[[M]], %[[BUF]]
// CHECK:         %[[NEWBUF:.*]] = tosa.add %[[MB]], %[[D]]
// Nesterov: d + 0.9 * buf'
// CHECK:         %[[MNB:.*]] = tosa.mul %[[M]], %[[NEWBUF]]
// CHECK:         %[[STEP:.*]] = tosa.add %[[D]], %[[MNB]]
// w' = w - lr * step
// CHECK:         %[[LR2:.*]] = tosa.reshape %[[LR]]
// CHECK:         %[[SCALED:.*]] = tosa.mul %[[LR2]], %[[STEP]]
// CHECK:         %[[NEWW:.*]] = tosa.sub %[[W]], %[[SCALED]]
// CHECK:         return %[[R]]#0, %[[R]]#1, %[[NEWW]], %[[NEWBUF]]

// PLAIN-LABEL: func.func @train_step(
// PLAIN:         %[[R:.*]]:3 = call @loss_and_gradients
// PLAIN-NOT:     1.000000e-07
// PLAIN:         %[[M:.*]] = "tosa.const"() <{values = dense<5.000000e-01> : tensor<1x1xf32>}>
// PLAIN:         %[[MB:.*]] = tosa.mul %[[M]], %{{.*}}
// PLAIN:         %[[NEWBUF:.*]] = tosa.add %[[MB]], %[[R]]#2
// PLAIN-NOT:     tosa.mul %[[M]], %[[NEWBUF]]
// PLAIN:         tosa.mul %{{.*}}, %[[NEWBUF]]

// REUSE-LABEL: func.func @again(
