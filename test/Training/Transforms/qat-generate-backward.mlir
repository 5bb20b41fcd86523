// RUN: qat-opt --qat-generate-backward %s | FileCheck %s
// RUN: qat-opt --qat-generate-backward="forward=forward function=grads" %s | FileCheck %s --check-prefix=NAMED

// A linear layer on a fake-quantized weight, ReLU6 and a residual add: the
// loss's gradient goes back through the reshape, both uses of %y (summed),
// the clamp's mask, the matmul and the fake-quant's straight-through mask.
// The scale is state but not trainable, and x is an input: neither gets a
// gradient, and the unneeded input gradient of the matmul is not kept.

func.func @forward(%w: tensor<1x3x4xf32> {qat.state = "w", qat.trainable}, %s: tensor<f32> {qat.state = "scale"}, %x: tensor<1x2x3xf32> {qat.input = "x"}) -> tensor<2x4xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %z = arith.constant dense<0> : tensor<i32>
  %wq = qat.fake_quant %w, %s, %z to i8[-127 : 127] : tensor<1x3x4xf32>, tensor<f32>, tensor<i32>
  %y = tosa.matmul %x, %wq, %zp, %zp : (tensor<1x2x3xf32>, tensor<1x3x4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x4xf32>
  %r = tosa.clamp %y {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  %sum = tosa.add %r, %y : (tensor<1x2x4xf32>, tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  %shape = tosa.const_shape {values = dense<[2, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %logits = tosa.reshape %sum, %shape : (tensor<1x2x4xf32>, !tosa.shape<2>) -> tensor<2x4xf32>
  return %logits : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @loss_and_gradients(
// CHECK-SAME:    %[[W:.*]]: tensor<1x3x4xf32> {qat.state = "w", qat.trainable}
// CHECK-SAME:    %[[S:.*]]: tensor<f32> {qat.state = "scale"}
// CHECK-SAME:    %[[X:.*]]: tensor<1x2x3xf32> {qat.input = "x"}
// CHECK-SAME:    %[[LABELS:.*]]: tensor<2xi64> {qat.input = "labels"})
// CHECK-SAME:    -> (tensor<f32> {qat.output = "loss"}, tensor<2x4xf32> {qat.output = "logits"}, tensor<1x3x4xf32> {qat.gradient = "w"})
// CHECK:         %[[WQ:.*]] = qat.fake_quant %[[W]], %[[S]], %[[Z:.*]] to i8[-127 : 127]
// CHECK:         %[[Y:.*]] = tosa.matmul %[[X]], %[[WQ]]
// CHECK:         %[[R:.*]] = tosa.clamp %[[Y]]
// CHECK:         %[[LOGITS:.*]] = tosa.reshape
// CHECK:         %[[LOSS:.*]] = qat.softmax_cross_entropy %[[LOGITS]], %[[LABELS]]
// Softmax minus one-hot, times 1/N.
// CHECK:         tosa.reduce_max %[[LOGITS]] {axis = 1 : i32}
// CHECK:         tosa.exp
// CHECK:         linalg.generic
// CHECK:           arith.cmpi eq
// CHECK:         %[[DLOGITS:.*]] = tosa.mul %{{.*}} : (tensor<2x4xf32>, tensor<1x1xf32>, tensor<1xi8>) -> tensor<2x4xf32>
// CHECK:         %[[DSUM:.*]] = tosa.reshape %[[DLOGITS]]
// ReLU6 passes the gradient where 0 < y < 6, read from its result
// (0 < r < 6 exactly then), so y need not be kept.
// CHECK:         tosa.greater %[[R]]
// CHECK:         tosa.greater %{{.*}}, %[[R]]
// CHECK:         %[[INSIDE:.*]] = tosa.logical_and
// CHECK:         %[[DR:.*]] = tosa.select %[[INSIDE]], %[[DSUM]]
// CHECK:         %[[DY:.*]] = tosa.add %[[DSUM]], %[[DR]]
// dW = x^T dY, a reduction over the rows.
// CHECK:         %[[DWQ:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel", "parallel"]} ins(%[[X]], %[[DY]]
// CHECK:         %[[MASK:.*]] = qat.fake_quant_mask %[[W]], %[[S]], %[[Z]] to i8[-127 : 127]
// CHECK:         %[[DW:.*]] = tosa.select %[[MASK]], %[[DWQ]]
// CHECK:         return %[[LOSS]], %[[LOGITS]], %[[DW]]

// NAMED-LABEL: func.func @grads(
