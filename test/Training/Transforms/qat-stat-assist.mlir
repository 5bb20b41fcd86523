// RUN: qat-opt --qat-generate-backward --qat-optimizer --qat-grad-boost --qat-stat-assist %s | FileCheck %s
// RUN: qat-opt --qat-generate-backward --qat-optimizer --qat-stat-assist=inherit-observers=true %s | FileCheck %s --check-prefix=INHERIT
// RUN: not qat-opt --qat-stat-assist %s 2>&1 | FileCheck %s --check-prefix=NOSTEP

// A weight fake-quantized with parameters from a moving-average observer.
// The warm-up step calls a copy of the loss and gradients without the fake
// quantization (the observer stays), passes no GradBoost noise, and (by
// default) keeps the observer's state under stat_assist.* names.

// CHECK: ml_program.global private mutable @stat_assist.min(dense<0x7F800000> : tensor<f32>)
// CHECK: ml_program.global private mutable @stat_assist.max(dense<0xFF800000> : tensor<f32>)
// INHERIT-NOT: stat_assist.
// NOSTEP: error: no function 'train_step': run --qat-optimizer first

ml_program.global private mutable @min(dense<0x7F800000> : tensor<f32>) : tensor<f32>
ml_program.global private mutable @max(dense<0xFF800000> : tensor<f32>) : tensor<f32>

func.func @forward(%w: tensor<4x3xf32> {qat.state = "w", qat.trainable},
                   %min: tensor<f32> {qat.state = "min"}, %max: tensor<f32> {qat.state = "max"},
                   %x: tensor<2x4xf32> {qat.input = "x"})
    -> (tensor<2x3xf32>, tensor<f32> {qat.state = "min"}, tensor<f32> {qat.state = "max"}) {
  %new_min, %new_max = qat.observe_moving_average_min_max %w, %min, %max averaging_constant 0.01 : tensor<4x3xf32>, tensor<f32>
  %s, %z = qat.choose_qparams symmetric %new_min, %new_max to i8[-128 : 127] : tensor<f32>
  %wq = qat.fake_quant %w, %s, %z to i8[-128 : 127] : tensor<4x3xf32>, tensor<f32>, tensor<i32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %s1 = tosa.const_shape {values = dense<[1, 2, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %s2 = tosa.const_shape {values = dense<[1, 4, 3]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %s3 = tosa.const_shape {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %x3 = tosa.reshape %x, %s1 : (tensor<2x4xf32>, !tosa.shape<3>) -> tensor<1x2x4xf32>
  %w3 = tosa.reshape %wq, %s2 : (tensor<4x3xf32>, !tosa.shape<3>) -> tensor<1x4x3xf32>
  %y = tosa.matmul %x3, %w3, %zp, %zp : (tensor<1x2x4xf32>, tensor<1x4x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x3xf32>
  %logits = tosa.reshape %y, %s3 : (tensor<1x2x3xf32>, !tosa.shape<2>) -> tensor<2x3xf32>
  return %logits, %new_min, %new_max : tensor<2x3xf32>, tensor<f32>, tensor<f32>
}

// An evaluation forward gets an FP twin for the warm-up epochs.
func.func @forward_eval(%w: tensor<4x3xf32> {qat.state = "w", qat.trainable}, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4x3xf32> {
  %wq = qat.fake_quant %w, %s, %z to i8[-128 : 127] : tensor<4x3xf32>, tensor<f32>, tensor<i32>
  return %wq : tensor<4x3xf32>
}

// CHECK-LABEL: func.func @loss_and_gradients(
// CHECK:         qat.fake_quant
// CHECK:         qat.fake_quant_mask
// CHECK-LABEL: func.func @loss_and_gradients_warmup(
// CHECK-SAME:    %[[W:[a-z0-9]+]]: tensor<4x3xf32> {qat.state = "w", qat.trainable}
// CHECK-NOT:     qat.fake_quant
// CHECK:         qat.observe_moving_average_min_max %[[W]]
// CHECK-NOT:     qat.fake_quant
// CHECK:         tosa.reshape %[[W]]
// CHECK-NOT:     qat.fake_quant
// CHECK:         return
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    {qat.input = "grad_boost_noise"}
// CHECK:         call @loss_and_gradients(
// CHECK-LABEL: func.func @train_step_warmup(
// CHECK-SAME:    %{{.*}}: tensor<f32> {qat.state = "stat_assist.min"}, %{{.*}}: tensor<f32> {qat.state = "stat_assist.max"}
// CHECK-NOT:     grad_boost_noise
// CHECK-SAME:    -> (
// CHECK-SAME:    tensor<f32> {qat.state = "stat_assist.min"}, tensor<f32> {qat.state = "stat_assist.max"}
// CHECK-SAME:    attributes {qat.stat_assist_warmup}
// CHECK:         %[[OFF:.*]] = arith.constant dense<0.000000e+00> : tensor<f32>
// CHECK:         call @loss_and_gradients_warmup(
// CHECK:         qat.grad_boost reference {{.*}} noise %[[OFF]]

// CHECK-LABEL: func.func @forward_eval(
// CHECK:         qat.fake_quant
// CHECK-LABEL: func.func @forward_eval_warmup(
// CHECK-SAME:    %[[EW:[a-z0-9]+]]: tensor<4x3xf32>
// CHECK-NOT:     qat.fake_quant
// CHECK:         return %[[EW]]

// INHERIT-LABEL: func.func @train_step_warmup(
// INHERIT-SAME:    {qat.state = "min"}, %{{.*}}: tensor<f32> {qat.state = "max"}
