// RUN: qat-opt --qat-rebatch=batch=1 --split-input-file --verify-diagnostics %s | FileCheck %s
// RUN: qat-opt --qat-rebatch=batch=7 --split-input-file --verify-diagnostics %s | FileCheck %s --check-prefix=SEVEN
// RUN: not qat-opt --qat-rebatch=batch=0 --split-input-file %s 2>&1 | FileCheck %s --check-prefix=ZERO
// functions= leaves the others alone.
// RUN: qat-opt "--qat-rebatch=batch=1 functions=nothing" --split-input-file %s | FileCheck %s --check-prefix=OTHERS
// OTHERS-LABEL: func @model
// OTHERS-SAME: tensor<4x2x4x4xf32> {qat.input = "x"}

// ZERO: error: --qat-rebatch: the batch size must be positive, not 0

// An int8 program at batch 4 (conv with padding, grouped conv through
// expand/collapse_shape, flatten, linear layer as a 3-D matmul) for one
// image per call: the batch is followed into dimension 1 of the matmul, the
// destinations are rebuilt, the weights and state stay as they are.
// CHECK-LABEL: func @model
// CHECK-SAME:    (%[[X:.*]]: tensor<1x2x4x4xf32> {qat.input = "x"}, %[[W:.*]]: tensor<3x2x3x3xi32>, %[[G:.*]]: tensor<3x1x1x1x1xi32>, %[[FC:.*]]: tensor<1x48x5xi32>, %[[S:.*]]: tensor<f32>, %[[Z:.*]]: tensor<i32>)
// CHECK-SAME:    -> tensor<1x5xi32>
// CHECK:         %[[Q:.*]] = qat.quantize %[[X]], %[[S]], %[[Z]] to ui8[0 : 255] : tensor<1x2x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<1x2x4x4xi32>
// CHECK:         %[[PAD:.*]] = tensor.pad %[[Q]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:         } : tensor<1x2x4x4xi32> to tensor<1x2x6x6xi32>
// CHECK:         %[[EMPTY:.*]] = tensor.empty() : tensor<1x3x4x4xi32>
// CHECK:         %[[INIT:.*]] = linalg.fill ins(%{{.*}} : i32) outs(%[[EMPTY]] : tensor<1x3x4x4xi32>)
// CHECK:         %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%[[PAD]], %[[W]] : tensor<1x2x6x6xi32>, tensor<3x2x3x3xi32>) outs(%[[INIT]] : tensor<1x3x4x4xi32>)
// CHECK:         %[[XG:.*]] = tensor.expand_shape %[[CONV]] {{\[\[}}0], [1, 2], [3], [4]] output_shape [1, 3, 1, 4, 4] : tensor<1x3x4x4xi32> into tensor<1x3x1x4x4xi32>
// CHECK:         %[[DW:.*]] = linalg.conv_2d_ngchw_gfchw {{.*}} outs(%{{.*}} : tensor<1x3x1x4x4xi32>)
// CHECK:         %[[FLAT4:.*]] = tensor.collapse_shape %[[DW]] {{.*}} : tensor<1x3x1x4x4xi32> into tensor<1x3x4x4xi32>
// CHECK:         %[[ROWS:.*]] = tosa.reshape %[[FLAT4]], %{{.*}} : (tensor<1x3x4x4xi32>, !tosa.shape<3>) -> tensor<1x1x48xi32>
// CHECK:         %[[MM:.*]] = linalg.batch_matmul ins(%[[ROWS]], %[[FC]] : tensor<1x1x48xi32>, tensor<1x48x5xi32>) outs(%{{.*}} : tensor<1x1x5xi32>)
// CHECK:         %[[OUT:.*]] = tosa.reshape %[[MM]], %{{.*}} : (tensor<1x1x5xi32>, !tosa.shape<2>) -> tensor<1x5xi32>
// CHECK:         return %[[OUT]] : tensor<1x5xi32>
// SEVEN-LABEL: func @model
// SEVEN-SAME:    -> tensor<7x5xi32>
// SEVEN:         tosa.reshape %{{.*}}, %{{.*}} : (tensor<7x3x4x4xi32>, !tosa.shape<3>) -> tensor<1x7x48xi32>
func.func @model(%x: tensor<4x2x4x4xf32> {qat.input = "x"}, %w: tensor<3x2x3x3xi32>, %g: tensor<3x1x1x1x1xi32>, %fc: tensor<1x48x5xi32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4x5xi32> {
  %q = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<4x2x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<4x2x4x4xi32>
  %c0 = arith.constant 0 : i32
  %pad = tensor.pad %q low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %c0 : i32
  } : tensor<4x2x4x4xi32> to tensor<4x2x6x6xi32>
  %empty = tensor.empty() : tensor<4x3x4x4xi32>
  %init = linalg.fill ins(%c0 : i32) outs(%empty : tensor<4x3x4x4xi32>) -> tensor<4x3x4x4xi32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%pad, %w : tensor<4x2x6x6xi32>, tensor<3x2x3x3xi32>) outs(%init : tensor<4x3x4x4xi32>) -> tensor<4x3x4x4xi32>
  %xg = tensor.expand_shape %conv [[0], [1, 2], [3], [4]] output_shape [4, 3, 1, 4, 4] : tensor<4x3x4x4xi32> into tensor<4x3x1x4x4xi32>
  %gempty = tensor.empty() : tensor<4x3x1x4x4xi32>
  %ginit = linalg.fill ins(%c0 : i32) outs(%gempty : tensor<4x3x1x4x4xi32>) -> tensor<4x3x1x4x4xi32>
  %dw = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%xg, %g : tensor<4x3x1x4x4xi32>, tensor<3x1x1x1x1xi32>) outs(%ginit : tensor<4x3x1x4x4xi32>) -> tensor<4x3x1x4x4xi32>
  %flat4 = tensor.collapse_shape %dw [[0], [1, 2], [3], [4]] : tensor<4x3x1x4x4xi32> into tensor<4x3x4x4xi32>
  %s3 = tosa.const_shape {values = dense<[1, 4, 48]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %rows = tosa.reshape %flat4, %s3 : (tensor<4x3x4x4xi32>, !tosa.shape<3>) -> tensor<1x4x48xi32>
  %mempty = tensor.empty() : tensor<1x4x5xi32>
  %minit = linalg.fill ins(%c0 : i32) outs(%mempty : tensor<1x4x5xi32>) -> tensor<1x4x5xi32>
  %mm = linalg.batch_matmul ins(%rows, %fc : tensor<1x4x48xi32>, tensor<1x48x5xi32>) outs(%minit : tensor<1x4x5xi32>) -> tensor<1x4x5xi32>
  %s2 = tosa.const_shape {values = dense<[4, 5]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %out = tosa.reshape %mm, %s2 : (tensor<1x4x5xi32>, !tosa.shape<2>) -> tensor<4x5xi32>
  return %out : tensor<4x5xi32>
}

// -----
// A function without model inputs is left alone.
// CHECK-LABEL: func @helper
// CHECK-SAME:    tensor<4x3xf32>
func.func @helper(%a: tensor<4x3xf32>) -> tensor<4x3xf32> {
  return %a : tensor<4x3xf32>
}

// -----
func.func @merges_batch(%x: tensor<4x10xf32> {qat.input = "x"}) -> tensor<40xf32> {
  %shape = tosa.const_shape {values = dense<40> : tensor<1xindex>} : () -> !tosa.shape<1>
  // expected-error @+1 {{--qat-rebatch: cannot follow the batch through 'tosa.reshape': it merges the batch with other dimensions}}
  %flat = tosa.reshape %x, %shape : (tensor<4x10xf32>, !tosa.shape<1>) -> tensor<40xf32>
  return %flat : tensor<40xf32>
}

// -----
func.func @mixes_images(%x: tensor<4x10xf32> {qat.input = "x"}) -> tensor<1x10xf32> {
  // expected-error @+1 {{--qat-rebatch: cannot follow the batch through 'tosa.reduce_sum': its result does not keep the batch dimension}}
  %sum = tosa.reduce_sum %x {axis = 0 : i32} : (tensor<4x10xf32>) -> tensor<1x10xf32>
  return %sum : tensor<1x10xf32>
}

// -----
func.func @sums_over_batch(%x: tensor<4x10xf32> {qat.input = "x"}) -> tensor<10xf32> {
  %empty = tensor.empty() : tensor<10xf32>
  // expected-error @+1 {{--qat-rebatch: cannot follow the batch through 'linalg.generic': its result reduces over the batch}}
  %sum = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]} ins(%x : tensor<4x10xf32>) outs(%empty : tensor<10xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %add = arith.addf %in, %acc : f32
    linalg.yield %add : f32
  } -> tensor<10xf32>
  return %sum : tensor<10xf32>
}

// -----
// expected-error @+1 {{--qat-rebatch: input 0 is not a statically shaped tensor with a batch dimension}}
func.func @scalar_input(%x: tensor<f32> {qat.input = "x"}) -> tensor<f32> {
  return %x : tensor<f32>
}
