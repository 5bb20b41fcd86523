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

// Adam (torch.optim.Adam): the moments and the step count are states; the
// bias corrections are f64 scalars rounded once; the update is one
// elementwise kernel per parameter, in PyTorch's order of operations.
// RUN: qat-opt --qat-generate-backward --qat-optimizer="algorithm=adam beta1=0.8 beta2=0.99 epsilon=1e-6 weight-decay-other=0.5" %s | FileCheck %s --check-prefix=ADAM
// RUN: not qat-opt --qat-generate-backward --qat-optimizer="algorithm=adam beta2=1" %s 2>&1 | FileCheck %s --check-prefix=BADBETA
// RUN: not qat-opt --qat-generate-backward --qat-optimizer="algorithm=adam epsilon=-1" %s 2>&1 | FileCheck %s --check-prefix=BADEPS
// BADBETA: error: --qat-optimizer: beta2 must be in [0, 1), not 1
// BADEPS: error: --qat-optimizer: epsilon must be finite and >= 0, not -1

// ADAM: ml_program.global private mutable @adam.exp_avg.w(dense<0.000000e+00> : tensor<2x4xf32>)
// ADAM: ml_program.global private mutable @adam.exp_avg_sq.w(dense<0.000000e+00> : tensor<2x4xf32>)
// ADAM: ml_program.global private mutable @adam.step(dense<0> : tensor<i64>)
// ADAM-LABEL: func.func @train_step(
// ADAM-SAME:    %[[W:.*]]: tensor<2x4xf32> {qat.state = "w", qat.trainable},
// ADAM-SAME:    %[[M:.*]]: tensor<2x4xf32> {qat.state = "adam.exp_avg.w"},
// ADAM-SAME:    %[[V:.*]]: tensor<2x4xf32> {qat.state = "adam.exp_avg_sq.w"},
// ADAM-SAME:    %[[T:.*]]: tensor<i64> {qat.state = "adam.step"},
// ADAM-SAME:    %[[LR:[^:]*]]: tensor<f32> {qat.input = "learning_rate"})
// ADAM-SAME:    -> (tensor<f32> {qat.output = "loss"}, tensor<2x4xf32> {qat.output = "logits"}, tensor<2x4xf32> {qat.state = "w"}, tensor<2x4xf32> {qat.state = "adam.exp_avg.w"}, tensor<2x4xf32> {qat.state = "adam.exp_avg_sq.w"}, tensor<i64> {qat.state = "adam.step"})
// ADAM:         %[[R:.*]]:3 = call @loss_and_gradients
// ADAM:         %[[NEWT:.*]] = arith.addi %[[T]], %{{.*}} : tensor<i64>
// c1 = 1 - 0.8^t, c2 = 1 - 0.99^t in f64; lr / c1 and sqrt(c2) in f32
// ADAM:         %[[SCALARS:.*]]:2 = linalg.generic {{.*}} ins(%[[NEWT]], %[[LR]] : tensor<i64>, tensor<f32>)
// ADAM:           %[[TF:.*]] = arith.sitofp %{{.*}} : i64 to f64
// ADAM:           math.powf %{{.*}}, %[[TF]] : f64
// ADAM:           math.powf %{{.*}}, %[[TF]] : f64
// ADAM:           arith.divf {{.*}} : f64
// ADAM:           math.sqrt {{.*}} : f64
// ADAM:           arith.truncf
// ADAM:           arith.truncf
// ADAM:         %[[UPDATE:.*]]:3 = linalg.generic {{.*}} ins(%[[W]], %[[R]]#2, %[[M]], %[[V]], %[[SCALARS]]#0, %[[SCALARS]]#1 :
// ADAM-NEXT:    ^bb0(%[[P:[^:]*]]: f32, %[[G:[^:]*]]: f32, %[[MI:[^:]*]]: f32, %[[VI:[^:]*]]: f32, %[[SIZE:[^:]*]]: f32, %[[ROOT:[^:]*]]: f32,
// d = g + 0.5 * p
// ADAM:           %[[WD:.*]] = arith.mulf %{{.*}}, %[[P]] : f32
// ADAM:           %[[D:.*]] = arith.addf %[[G]], %[[WD]] : f32
// m = m * 0.8 + 0.2 * d
// ADAM:           %[[MB:.*]] = arith.mulf %[[MI]], %{{.*}} : f32
// ADAM:           %[[MD:.*]] = arith.mulf %{{.*}}, %[[D]] : f32
// ADAM:           %[[NEWM:.*]] = arith.addf %[[MB]], %[[MD]] : f32
// v = v * 0.99 + (0.01 * d) * d
// ADAM:           %[[VB:.*]] = arith.mulf %[[VI]], %{{.*}} : f32
// ADAM:           %[[VD:.*]] = arith.mulf %{{.*}}, %[[D]] : f32
// ADAM:           %[[VDD:.*]] = arith.mulf %[[VD]], %[[D]] : f32
// ADAM:           %[[NEWV:.*]] = arith.addf %[[VB]], %[[VDD]] : f32
// p = p - (size * m) / (sqrt(v) / root + eps)
// ADAM:           %[[SQRT:.*]] = math.sqrt %[[NEWV]] : f32
// ADAM:           %[[SCALED:.*]] = arith.divf %[[SQRT]], %[[ROOT]] : f32
// ADAM:           %[[DEN:.*]] = arith.addf %[[SCALED]], %{{.*}} : f32
// ADAM:           %[[NUM:.*]] = arith.mulf %[[SIZE]], %[[NEWM]] : f32
// ADAM:           %[[STEP:.*]] = arith.divf %[[NUM]], %[[DEN]] : f32
// ADAM:           %[[NEWP:.*]] = arith.subf %[[P]], %[[STEP]] : f32
// ADAM:           linalg.yield %[[NEWP]], %[[NEWM]], %[[NEWV]]
// ADAM:         return %[[R]]#0, %[[R]]#1, %[[UPDATE]]#0, %[[UPDATE]]#1, %[[UPDATE]]#2, %[[NEWT]]
