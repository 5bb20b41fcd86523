// RUN: qat-opt --convert-qat-to-tosa --split-input-file %s | FileCheck %s

// Training: per-channel sums over dimensions 0, 2, 3 in that order, times
// 1/count (count = 2 * 3 * 3 = 18); biased variance for the output,
// unbiased (x 18/17) for the running variance.
// CHECK-LABEL: func @batch_norm_training
// CHECK-SAME:    (%[[X:.*]]: tensor<2x4x3x3xf32>, %[[W:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>, %[[RM:.*]]: tensor<4xf32>, %[[RV:.*]]: tensor<4xf32>)
// CHECK:         %[[S0:.*]] = tosa.reduce_sum %[[X]] {axis = 0 : i32} : (tensor<2x4x3x3xf32>) -> tensor<1x4x3x3xf32>
// CHECK:         %[[S2:.*]] = tosa.reduce_sum %[[S0]] {axis = 2 : i32} : (tensor<1x4x3x3xf32>) -> tensor<1x4x1x3xf32>
// CHECK:         %[[S3:.*]] = tosa.reduce_sum %[[S2]] {axis = 3 : i32} : (tensor<1x4x1x3xf32>) -> tensor<1x4x1x1xf32>
// CHECK:         %[[INV:.*]] = "tosa.const"() <{values = dense<0.055555556> : tensor<1x1x1x1xf32>}>
// CHECK:         %[[MEAN:.*]] = tosa.mul %[[S3]], %[[INV]]
// CHECK:         %[[C:.*]] = tosa.sub %[[X]], %[[MEAN]]
// CHECK:         tosa.mul %[[C]], %[[C]]
// CHECK:         %[[VAR:.*]] = tosa.mul %{{.*}}, %{{.*}} : (tensor<1x4x1x1xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<1x4x1x1xf32>
// CHECK:         %[[EPS:.*]] = "tosa.const"() <{values = dense<9.99999974E-6> : tensor<1x1x1x1xf32>}>
// CHECK:         %[[VE:.*]] = tosa.add %[[VAR]], %[[EPS]]
// CHECK:         %[[R:.*]] = tosa.rsqrt %[[VE]]
// CHECK:         %[[D:.*]] = tosa.sub %[[X]], %[[MEAN]]
// CHECK:         %[[N:.*]] = tosa.mul %[[D]], %[[R]]
// CHECK:         %[[WV:.*]] = tosa.reshape %[[W]]
// CHECK:         %[[Y:.*]] = tosa.mul %[[N]], %[[WV]]
// CHECK:         %[[BV:.*]] = tosa.reshape %[[B]]
// CHECK:         %[[OUT:.*]] = tosa.add %[[Y]], %[[BV]]
// CHECK:         "tosa.const"() <{values = dense<1.05882359> : tensor<1x1x1x1xf32>}>
// CHECK:         %[[KEEP:.*]] = "tosa.const"() <{values = dense<0.899999976> : tensor<1xf32>}>
// CHECK:         tosa.mul %[[RM]], %[[KEEP]]
// CHECK:         %[[NEWMEAN:.*]] = tosa.add
// CHECK:         tosa.mul %[[RV]]
// CHECK:         %[[NEWVAR:.*]] = tosa.add
// CHECK:         return %[[OUT]], %[[NEWMEAN]], %[[NEWVAR]]
// CHECK-NOT:     qat.batch_norm
func.func @batch_norm_training(%x: tensor<2x4x3x3xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %rm: tensor<4xf32>, %rv: tensor<4xf32>) -> (tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0:3 = qat.batch_norm %x, %w, %b, %rm, %rv training epsilon 1.0e-05 momentum 0.1 : tensor<2x4x3x3xf32>, tensor<4xf32>
  return %0#0, %0#1, %0#2 : tensor<2x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Evaluation: the running statistics, returned unchanged.
// CHECK-LABEL: func @batch_norm_eval
// CHECK-SAME:    (%[[X:.*]]: tensor<2x4xf32>, %[[W:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>, %[[RM:.*]]: tensor<4xf32>, %[[RV:.*]]: tensor<4xf32>)
// CHECK-NOT:     tosa.reduce_sum
// CHECK:         %[[MEAN:.*]] = tosa.reshape %[[RM]], %{{.*}} : (tensor<4xf32>, !tosa.shape<2>) -> tensor<1x4xf32>
// CHECK:         %[[VAR:.*]] = tosa.reshape %[[RV]]
// CHECK:         tosa.rsqrt
// CHECK:         tosa.sub %[[X]], %[[MEAN]]
// CHECK:         return %{{.*}}, %[[RM]], %[[RV]]
func.func @batch_norm_eval(%x: tensor<2x4xf32>, %w: tensor<4xf32>, %b: tensor<4xf32>, %rm: tensor<4xf32>, %rv: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %0:3 = qat.batch_norm %x, %w, %b, %rm, %rv epsilon 1.0e-05 momentum 0.1 : tensor<2x4xf32>, tensor<4xf32>
  return %0#0, %0#1, %0#2 : tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>
}
