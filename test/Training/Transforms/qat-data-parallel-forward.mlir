// RUN: qat-opt "--qat-data-parallel-forward=replicas=4" %s | FileCheck %s
// RUN: qat-opt "--qat-data-parallel-forward=replicas=4 sync-batch-norm=true" %s | FileCheck %s --check-prefix=SYNC
// A second run (another rank count) replaces the twin.
// RUN: qat-opt "--qat-data-parallel-forward=replicas=4" %s | qat-opt "--qat-data-parallel-forward=replicas=2" | FileCheck %s --check-prefix=AGAIN
// The backward of the twin: parameter gradients are averaged over the
// replicas; a synchronized batch norm reduces its gradient's two sums.
// RUN: qat-opt "--qat-data-parallel-forward=replicas=4" "--qat-generate-backward=forward=forward_data_parallel" %s | FileCheck %s --check-prefix=GRAD
// RUN: qat-opt "--qat-data-parallel-forward=replicas=4 sync-batch-norm=true" "--qat-generate-backward=forward=forward_data_parallel" %s | FileCheck %s --check-prefix=SYNCGRAD
// RUN: not qat-opt "--qat-data-parallel-forward=forward=missing" %s 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not qat-opt "--qat-data-parallel-forward=replicas=0" %s 2>&1 | FileCheck %s --check-prefix=ZERO

// @forward is not changed: a saved module resumes with any rank count.
// CHECK-LABEL: func.func @forward(
// CHECK-NOT:     replicated_parameter
// CHECK-NOT:     across_replicas
// CHECK-NOT:     all_reduce
// CHECK:         return

// The twin reads each trainable parameter once through
// qat.replicated_parameter (not the running statistics, not the input),
// observes across the replicas, and averages the running statistics of a
// batch norm that normalizes with the replica's own batch.
// CHECK-LABEL: func.func private @forward_data_parallel(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: tensor<2x3x4x4xf32> {qat.input = "x"}, %[[W:[a-z0-9]+]]: tensor<3xf32> {qat.state = "bn.weight", qat.trainable}, %[[B:[a-z0-9]+]]: tensor<3xf32> {qat.state = "bn.bias", qat.trainable}, %[[RM:[a-z0-9]+]]: tensor<3xf32> {qat.state = "bn.running_mean"}
// CHECK-DAG:     %[[SW:.*]] = qat.replicated_parameter %[[W]] replicas 4 : tensor<3xf32>
// CHECK-DAG:     %[[SB:.*]] = qat.replicated_parameter %[[B]] replicas 4 : tensor<3xf32>
// CHECK:         qat.observe_moving_average_min_max %[[X]], %{{.*}}, %{{.*}} averaging_constant {{.*}} across_replicas
// CHECK:         %[[Y:.*]], %[[M:.*]], %[[V:.*]] = qat.batch_norm %[[X]], %[[SW]], %[[SB]], %[[RM]], %{{.*}} training epsilon {{.*}} momentum {{.*}} : tensor<2x3x4x4xf32>, tensor<3xf32>
// CHECK:         %[[MS:.*]] = qat.all_reduce sum %[[M]] : tensor<3xf32>
// CHECK:         %[[QUARTER:.*]] = "tosa.const"() <{values = dense<2.500000e-01> : tensor<1xf32>}>
// CHECK:         %[[MM:.*]] = tosa.mul %[[MS]], %[[QUARTER]]
// CHECK:         %[[VS:.*]] = qat.all_reduce sum %[[V]] : tensor<3xf32>
// CHECK:         %[[VM:.*]] = tosa.mul %[[VS]]
// CHECK:         return %{{.*}}, %[[MM]], %[[VM]]

// SYNC-LABEL: func.func private @forward_data_parallel(
// SYNC:         qat.batch_norm {{.*}} training epsilon {{.*}} momentum {{.*}} replicas 4 :
// SYNC-NOT:     qat.all_reduce
// SYNC:         return

// AGAIN-COUNT-1: func.func private @forward_data_parallel(
// AGAIN-NOT:     replicas 4
// AGAIN-NOT:     func.func private @forward_data_parallel(

// GRAD-LABEL: func.func @loss_and_gradients(
// GRAD:         qat.all_reduce sum %new_running_mean
// GRAD:         qat.all_reduce sum %new_running_var
// GRAD:         %[[GS:.*]] = qat.all_reduce sum %{{.*}} : tensor<3xf32>
// GRAD:         tosa.mul %[[GS]], %{{.*}}
// GRAD:         %[[GS2:.*]] = qat.all_reduce sum %{{.*}} : tensor<3xf32>
// GRAD:         tosa.mul %[[GS2]], %{{.*}}
// GRAD-NOT:     qat.all_reduce
// GRAD:         return

// Two reductions for the two gradient sums of the input gradient, two for
// the parameters' averages; the forward's own are made at its expansion.
// SYNCGRAD-LABEL: func.func @loss_and_gradients(
// SYNCGRAD-COUNT-4: qat.all_reduce sum
// SYNCGRAD-NOT:     qat.all_reduce
// SYNCGRAD:         return

// MISSING: error: --qat-data-parallel-forward: no function 'missing' to copy
// ZERO: error: --qat-data-parallel-forward: replicas must be at least 1, not 0

func.func @forward(%x: tensor<2x3x4x4xf32> {qat.input = "x"},
                   %w: tensor<3xf32> {qat.state = "bn.weight", qat.trainable},
                   %b: tensor<3xf32> {qat.state = "bn.bias", qat.trainable},
                   %rm: tensor<3xf32> {qat.state = "bn.running_mean"},
                   %rv: tensor<3xf32> {qat.state = "bn.running_var"},
                   %lo: tensor<f32> {qat.state = "obs.min_val"},
                   %hi: tensor<f32> {qat.state = "obs.max_val"})
    -> (tensor<2x3xf32>, tensor<3xf32> {qat.state = "bn.running_mean"},
        tensor<3xf32> {qat.state = "bn.running_var"},
        tensor<f32> {qat.state = "obs.min_val"},
        tensor<f32> {qat.state = "obs.max_val"}) {
  %lo2, %hi2 = qat.observe_moving_average_min_max %x, %lo, %hi averaging_constant 1.000000e-02 : tensor<2x3x4x4xf32>, tensor<f32>
  %y:3 = qat.batch_norm %x, %w, %b, %rm, %rv training epsilon 1.0e-05 momentum 0.1 : tensor<2x3x4x4xf32>, tensor<3xf32>
  %s1 = tosa.reduce_sum %y#0 {axis = 3 : i32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x1xf32>
  %s2 = tosa.reduce_sum %s1 {axis = 2 : i32} : (tensor<2x3x4x1xf32>) -> tensor<2x3x1x1xf32>
  %shape = tosa.const_shape {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %logits = tosa.reshape %s2, %shape : (tensor<2x3x1x1xf32>, !tosa.shape<2>) -> tensor<2x3xf32>
  return %logits, %y#1, %y#2, %lo2, %hi2 : tensor<2x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<f32>
}
