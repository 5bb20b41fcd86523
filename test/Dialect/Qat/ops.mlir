// RUN: qat-opt %s | qat-opt | FileCheck %s
// RUN: qat-opt %s --mlir-print-op-generic | qat-opt | FileCheck %s

// CHECK-LABEL: func @fake_quant_per_tensor
func.func @fake_quant_per_tensor(%x: tensor<4x8xf32>, %s: tensor<f32>,
                                 %z: tensor<i32>) -> tensor<4x8xf32> {
  // CHECK: qat.fake_quant %{{.*}}, %{{.*}}, %{{.*}} to ui8[0 : 255] : tensor<4x8xf32>, tensor<f32>, tensor<i32>
  %0 = qat.fake_quant %x, %s, %z to ui8[0 : 255]
      : tensor<4x8xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<4x8xf32>
}

// CHECK-LABEL: func @fake_quant_per_axis
func.func @fake_quant_per_axis(%x: tensor<16x3x3x8xf32>, %s: tensor<16xf32>,
                               %z: tensor<16xi32>) -> tensor<16x3x3x8xf32> {
  // CHECK: qat.fake_quant %{{.*}} to i8[-127 : 127] axis 0 : tensor<16x3x3x8xf32>, tensor<16xf32>, tensor<16xi32>
  %0 = qat.fake_quant %x, %s, %z to i8[-127 : 127] axis 0
      : tensor<16x3x3x8xf32>, tensor<16xf32>, tensor<16xi32>
  return %0 : tensor<16x3x3x8xf32>
}

// Narrow storage types and dynamic shapes are allowed.
// CHECK-LABEL: func @fake_quant_4bit_dynamic
func.func @fake_quant_4bit_dynamic(%x: tensor<?x5xf32>, %s: tensor<?xf32>,
                                   %z: tensor<?xi32>) -> tensor<?x5xf32> {
  // CHECK: qat.fake_quant %{{.*}} to ui4[0 : 15] axis 0 : tensor<?x5xf32>, tensor<?xf32>, tensor<?xi32>
  %0 = qat.fake_quant %x, %s, %z to ui4[0 : 15] axis 0
      : tensor<?x5xf32>, tensor<?xf32>, tensor<?xi32>
  return %0 : tensor<?x5xf32>
}

// CHECK-LABEL: func @fake_quant_mask
func.func @fake_quant_mask(%x: tensor<4x8xf32>, %s: tensor<8xf32>,
                           %z: tensor<8xi32>) -> tensor<4x8xi1> {
  // CHECK: qat.fake_quant_mask %{{.*}} to si8[-128 : 127] axis 1 : tensor<4x8xf32>, tensor<8xf32>, tensor<8xi32>
  %0 = qat.fake_quant_mask %x, %s, %z to si8[-128 : 127] axis 1
      : tensor<4x8xf32>, tensor<8xf32>, tensor<8xi32>
  return %0 : tensor<4x8xi1>
}

// Constant parameters inside the range verify.
// CHECK-LABEL: func @fake_quant_constant_params
func.func @fake_quant_constant_params(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %s = arith.constant dense<[0.5, 0.25, 1.0]> : tensor<3xf32>
  %z = arith.constant dense<[-128, 0, 127]> : tensor<3xi32>
  // CHECK: qat.fake_quant {{.*}} to i8[-128 : 127] axis 1
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 1
      : tensor<2x3xf32>, tensor<3xf32>, tensor<3xi32>
  return %0 : tensor<2x3xf32>
}

// CHECK-LABEL: func @observers
func.func @observers(%x: tensor<8x4xf32>, %min: tensor<f32>, %max: tensor<f32>,
                     %cmin: tensor<4xf32>, %cmax: tensor<4xf32>)
    -> (tensor<f32>, tensor<f32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK: qat.observe_min_max %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x4xf32>, tensor<f32>
  %0:2 = qat.observe_min_max %x, %min, %max : tensor<8x4xf32>, tensor<f32>
  // CHECK: qat.observe_moving_average_min_max %{{.*}}, %{{.*}}, %{{.*}} averaging_constant 1.000000e-01 axis 1 : tensor<8x4xf32>, tensor<4xf32>
  %1:2 = qat.observe_moving_average_min_max %x, %cmin, %cmax
      averaging_constant 0.1 axis 1 : tensor<8x4xf32>, tensor<4xf32>
  return %0#0, %0#1, %1#0, %1#1 : tensor<f32>, tensor<f32>, tensor<4xf32>, tensor<4xf32>
}

// CHECK-LABEL: func @choose_qparams
func.func @choose_qparams(%min: tensor<f32>, %max: tensor<f32>,
                          %cmin: tensor<16xf32>, %cmax: tensor<16xf32>)
    -> (tensor<f32>, tensor<i32>, tensor<16xf32>, tensor<16xi32>) {
  // CHECK: qat.choose_qparams affine %{{.*}}, %{{.*}} to ui8[0 : 255] : tensor<f32>
  %s, %z = qat.choose_qparams affine %min, %max to ui8[0 : 255] : tensor<f32>
  // CHECK: qat.choose_qparams symmetric %{{.*}}, %{{.*}} to i8[-128 : 127] {eps = 9.99999974E-6 : f32} : tensor<16xf32>
  %cs, %cz = qat.choose_qparams symmetric %cmin, %cmax to i8[-128 : 127]
      {eps = 1.0e-5 : f32} : tensor<16xf32>
  return %s, %z, %cs, %cz : tensor<f32>, tensor<i32>, tensor<16xf32>, tensor<16xi32>
}

// CHECK-LABEL: func @choose_qparams_kernel_rule
func.func @choose_qparams_kernel_rule(%min: tensor<f32>, %max: tensor<f32>)
    -> (tensor<f32>, tensor<i32>) {
  // CHECK: qat.choose_qparams affine %{{.*}}, %{{.*}} to ui8[0 : 255] using fake_quant_kernel : tensor<f32>
  %s, %z = qat.choose_qparams affine %min, %max to ui8[0 : 255]
      using fake_quant_kernel : tensor<f32>
  return %s, %z : tensor<f32>, tensor<i32>
}

// CHECK-LABEL: func @dropout
func.func @dropout(%x: tensor<4x8xf32>, %seed: tensor<i64>) -> tensor<4x8xf32> {
  // CHECK: qat.dropout %{{.*}}, %{{.*}} stream 3 probability 2.500000e-01 : tensor<4x8xf32>, tensor<i64>
  %0 = qat.dropout %x, %seed stream 3 probability 0.25 : tensor<4x8xf32>, tensor<i64>
  return %0 : tensor<4x8xf32>
}

// CHECK-LABEL: func @softmax_cross_entropy
func.func @softmax_cross_entropy(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<f32> {
  // CHECK: qat.softmax_cross_entropy %{{.*}}, %{{.*}} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  %0 = qat.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return %0 : tensor<f32>
}

// CHECK-LABEL: func @softmax_cross_entropy_dynamic
func.func @softmax_cross_entropy_dynamic(%logits: tensor<?x10xf32>, %labels: tensor<?xi32>) -> tensor<f32> {
  // CHECK: qat.softmax_cross_entropy %{{.*}}, %{{.*}} : tensor<?x10xf32>, tensor<?xi32> -> tensor<f32>
  %0 = qat.softmax_cross_entropy %logits, %labels : tensor<?x10xf32>, tensor<?xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// CHECK-LABEL: func @grad_boost
func.func @grad_boost(%g: tensor<8x3xf32>, %max: tensor<8x3xf32>, %min: tensor<8x3xf32>, %t: tensor<i64>, %k: tensor<i64>, %seed: tensor<i64>, %on: tensor<f32>) -> tensor<8x3xf32> {
  // CHECK: qat.grad_boost reference %{{.*}}, %{{.*}}, %{{.*}} step %{{.*}} qat_steps %{{.*}} seed %{{.*}} noise %{{.*}} stream 2 {beta = 0.899999976 : f32, clip = 1.000000e-03 : f32, coin_probability = 5.000000e-01 : f32, decay = 0.00999999977 : f32} : tensor<8x3xf32>
  %0:3 = qat.grad_boost reference %g, %max, %min step %t qat_steps %k seed %seed noise %on stream 2 {beta = 0.9 : f32, decay = 0.01 : f32, clip = 0.001 : f32, coin_probability = 0.5 : f32} : tensor<8x3xf32>
  // CHECK: qat.grad_boost corrected
  %1:3 = qat.grad_boost corrected %0#0, %0#1, %0#2 step %t qat_steps %k seed %seed noise %on stream 0 {beta = 0.9 : f32, decay = 0.0 : f32, clip = 0.0 : f32, coin_probability = 1.0 : f32} : tensor<8x3xf32>
  return %1#0 : tensor<8x3xf32>
}

// CHECK-LABEL: func @batch_norm
func.func @batch_norm(%x: tensor<8x4x5x5xf32>, %c: tensor<4xf32>) -> (tensor<8x4x5x5xf32>, tensor<4xf32>) {
  // CHECK: qat.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} training epsilon 9.99999974E-6 momentum 1.000000e-01 : tensor<8x4x5x5xf32>, tensor<4xf32>
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 : tensor<8x4x5x5xf32>, tensor<4xf32>
  // CHECK: qat.batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} epsilon 1.000000e-03 momentum 0.000000e+00 : tensor<8x4x5x5xf32>, tensor<4xf32>
  %1:3 = qat.batch_norm %0#0, %c, %c, %0#1, %0#2 epsilon 1.0e-03 momentum 0.0 : tensor<8x4x5x5xf32>, tensor<4xf32>
  return %1#0, %1#1 : tensor<8x4x5x5xf32>, tensor<4xf32>
}

// CHECK-LABEL: func @integer_ops
func.func @integer_ops(%x: tensor<8x16xf32>, %s: tensor<f32>, %z: tensor<i32>, %cs: tensor<16xf32>, %cz: tensor<16xi32>, %m: tensor<16xf32>) -> tensor<8x16xf32> {
  // CHECK: qat.quantize %{{.*}}, %{{.*}}, %{{.*}} to ui8[0 : 255] : tensor<8x16xf32>, tensor<f32>, tensor<i32> -> tensor<8x16xi32>
  %q = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<8x16xf32>, tensor<f32>, tensor<i32> -> tensor<8x16xi32>
  // CHECK: qat.quantize %{{.*}}, %{{.*}}, %{{.*}} to i32[-2147483648 : 2147483647] axis 1 : tensor<8x16xf32>, tensor<16xf32>, tensor<16xi32> -> tensor<8x16xi32>
  %b = qat.quantize %x, %cs, %cz to i32[-2147483648 : 2147483647] axis 1 : tensor<8x16xf32>, tensor<16xf32>, tensor<16xi32> -> tensor<8x16xi32>
  // CHECK: qat.requantize %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} axis 1 : tensor<8x16xi32>, tensor<16xf32>
  %r = qat.requantize %b, %m, %z, %z, %z axis 1 : tensor<8x16xi32>, tensor<16xf32>
  // CHECK: qat.dequantize %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x16xi32>, tensor<f32>, tensor<i32> -> tensor<8x16xf32>
  %d = qat.dequantize %r, %s, %z : tensor<8x16xi32>, tensor<f32>, tensor<i32> -> tensor<8x16xf32>
  // CHECK: qat.dequantize %{{.*}}, %{{.*}}, %{{.*}} axis 1 : tensor<8x16xi32>, tensor<16xf32>, tensor<16xi32> -> tensor<8x16xf32>
  %e = qat.dequantize %q, %cs, %cz axis 1 : tensor<8x16xi32>, tensor<16xf32>, tensor<16xi32> -> tensor<8x16xf32>
  // CHECK: qat.straight_through %{{.*}}, %{{.*}} : tensor<8x16xf32>
  %t = qat.straight_through %d, %e : tensor<8x16xf32>
  return %t : tensor<8x16xf32>
}

// CHECK-LABEL: func @data_parallel
func.func @data_parallel(%x: tensor<8x4x3x3xf32>, %c: tensor<4xf32>,
                         %lo: tensor<f32>, %hi: tensor<f32>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<8x4x3x3xf32>) {
  // CHECK: qat.replicated_parameter %{{.*}} replicas 2 : tensor<4xf32>
  %w = qat.replicated_parameter %c replicas 2 : tensor<4xf32>
  // CHECK: qat.all_reduce sum %{{.*}} : tensor<4xf32>
  %s = qat.all_reduce sum %w : tensor<4xf32>
  // CHECK: qat.all_reduce max %{{.*}} : tensor<4xf32>
  %m = qat.all_reduce max %s : tensor<4xf32>
  // CHECK: qat.observe_min_max %{{.*}}, %{{.*}}, %{{.*}} across_replicas : tensor<8x4x3x3xf32>, tensor<f32>
  %a, %b = qat.observe_min_max %x, %lo, %hi across_replicas : tensor<8x4x3x3xf32>, tensor<f32>
  // CHECK: qat.batch_norm {{.*}} training epsilon {{.*}} momentum {{.*}} replicas 2 : tensor<8x4x3x3xf32>, tensor<4xf32>
  %y:3 = qat.batch_norm %x, %w, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 replicas 2 : tensor<8x4x3x3xf32>, tensor<4xf32>
  return %s, %m, %b, %y#0 : tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<8x4x3x3xf32>
}
