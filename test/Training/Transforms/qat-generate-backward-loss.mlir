// RUN: qat-opt --qat-generate-backward %s | FileCheck %s

// A forward that returns its own loss (a 0-d f32 first result, here an L1
// loss as the importer writes PyTorch's F.l1_loss) and its output: the loss
// is differentiated as it is, no labels argument is added and no
// cross-entropy, and the output is named output1.

func.func @forward(%w: tensor<2x4xf32> {qat.state = "w", qat.trainable},
                   %x: tensor<2x4xf32> {qat.input = "x"},
                   %y: tensor<2x4xf32> {qat.input = "y"}) -> (tensor<f32>, tensor<2x4xf32>) {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %out = tosa.mul %w, %x, %shift : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<1xi8>) -> tensor<2x4xf32>
  %d = tosa.sub %out, %y {qat.loss} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %a = tosa.abs %d {qat.loss} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %s0 = tosa.reduce_sum %a {axis = 0 : i32, qat.loss} : (tensor<2x4xf32>) -> tensor<1x4xf32>
  %s1 = tosa.reduce_sum %s0 {axis = 1 : i32, qat.loss} : (tensor<1x4xf32>) -> tensor<1x1xf32>
  %shape = tosa.const_shape {values = dense<> : tensor<0xindex>} : () -> !tosa.shape<0>
  %loss = tosa.reshape %s1, %shape {qat.loss} : (tensor<1x1xf32>, !tosa.shape<0>) -> tensor<f32>
  return %loss, %out : tensor<f32>, tensor<2x4xf32>
}

// CHECK-LABEL: func.func @loss_and_gradients(
// CHECK-SAME:    %[[W:[^:]*]]: tensor<2x4xf32> {qat.state = "w", qat.trainable},
// CHECK-SAME:    %[[X:[^:]*]]: tensor<2x4xf32> {qat.input = "x"},
// CHECK-SAME:    %[[Y:[^:]*]]: tensor<2x4xf32> {qat.input = "y"})
// CHECK-SAME:    -> (tensor<f32> {qat.output = "loss"}, tensor<2x4xf32> {qat.output = "output1"}, tensor<2x4xf32> {qat.gradient = "w"})
// CHECK-NOT:     qat.softmax_cross_entropy
// CHECK:         %[[OUT:.*]] = tosa.mul %[[W]], %[[X]]
// CHECK:         %[[D:.*]] = tosa.sub %[[OUT]], %[[Y]]
// CHECK:         %[[LOSS:.*]] = tosa.reshape
// |d|'s gradient: g where d > 0, minus g where d < 0 (0 at d = 0).
// CHECK:         %[[POS:.*]] = tosa.greater %[[D]], %{{.*}}
// CHECK:         %[[NEG:.*]] = tosa.greater %{{.*}}, %[[D]]
// CHECK:         %[[GD:.*]] = tosa.sub %{{.*}}, %{{.*}}
// The gradient of w = x * g(out).
// CHECK:         %[[GW:.*]] = tosa.mul %{{.*}}, %[[X]]
// CHECK:         return %[[LOSS]], %[[OUT]], %[[GW]]
