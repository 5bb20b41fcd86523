// RUN: qat-opt %s --qat-generate-backward --convert-qat-to-tosa --cse | FileCheck %s

// A training batch norm's gradient needs the batch's mean and variance
// again. It rebuilds them with the same ops as the expanded forward, so
// that the CSE which --qat-lower-to-llvm runs before fusion
// computes them once: three sums over the input for the mean, three over
// the squared deviations for the variance, and no more.

func.func @forward(%gamma: tensor<3xf32> {qat.state = "bn.weight", qat.trainable}, %beta: tensor<3xf32> {qat.state = "bn.bias", qat.trainable}, %mean: tensor<3xf32> {qat.state = "bn.running_mean"}, %var: tensor<3xf32> {qat.state = "bn.running_var"}, %x: tensor<2x3x4x4xf32> {qat.input = "x"}) -> (tensor<2x48xf32>, tensor<3xf32> {qat.state = "bn.running_mean"}, tensor<3xf32> {qat.state = "bn.running_var"}) {
  %y, %new_mean, %new_var = qat.batch_norm %x, %gamma, %beta, %mean, %var training epsilon 1.0e-5 momentum 0.1 : tensor<2x3x4x4xf32>, tensor<3xf32>
  %shape = tosa.const_shape {values = dense<[2, 48]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %logits = tosa.reshape %y, %shape : (tensor<2x3x4x4xf32>, !tosa.shape<2>) -> tensor<2x48xf32>
  return %logits, %new_mean, %new_var : tensor<2x48xf32>, tensor<3xf32>, tensor<3xf32>
}

// CHECK-LABEL: func.func @loss_and_gradients(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<2x3x4x4xf32> {qat.input = "x"}
// CHECK:         %[[SUM0:.*]] = tosa.reduce_sum %[[X]] {axis = 0 : i32}
// CHECK:         %[[SUM2:.*]] = tosa.reduce_sum %[[SUM0]] {axis = 2 : i32}
// CHECK:         %[[SUM3:.*]] = tosa.reduce_sum %[[SUM2]] {axis = 3 : i32}
// CHECK:         %[[DEV:.*]] = tosa.sub %[[X]]
// CHECK:         %[[SQUARE:.*]] = tosa.mul %[[DEV]], %[[DEV]]
// CHECK:         tosa.reduce_sum %[[SQUARE]] {axis = 0 : i32}
// CHECK-NOT:     tosa.reduce_sum %[[X]]
// CHECK-NOT:     tosa.mul %[[DEV]], %[[DEV]]
// CHECK:         return
