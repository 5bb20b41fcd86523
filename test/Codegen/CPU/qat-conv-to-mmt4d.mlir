// RUN: qat-opt --qat-conv-to-mmt4d %s | FileCheck %s

// The window of image pixels under each (n, oh, ow, c, kh, kw).
// CHECK-DAG:   #[[WINDOW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1 * 2 + d4, d2 * 2 + d5)>
// The transposed im2col layout (c, kh, kw, n, oh, ow) over col2im's loops
// (n, c, kh, kw, oh, ow), and the pixels they add onto.
// CHECK-DAG:   #[[COLS_MAP:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d1, d2, d3, d0, d4, d5)>
// CHECK-DAG:   #[[PIXELS_MAP:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4 * 2 + d2, d5 * 2 + d3)>

#image = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, c, oh * 2 + kh, ow * 2 + kw)>
#filter = affine_map<(n, f, oh, ow, c, kh, kw) -> (f, c, kh, kw)>
#output = affine_map<(n, f, oh, ow, c, kh, kw) -> (n, f, oh, ow)>

// Into the output: im2col (N*OH*OW) x (C*KH*KW) times the filter as
// F x (C*KH*KW), then added to the init in NCHW.
// CHECK-LABEL: func @forward
// CHECK:         %[[COLS:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<2x3x9x9xf32>) outs(%{{.*}} : tensor<2x4x4x3x3x3xf32>)
// CHECK:         %[[A:.*]] = tensor.collapse_shape %[[COLS]] {{\[\[}}0, 1, 2], [3, 4, 5]] : tensor<2x4x4x3x3x3xf32> into tensor<32x27xf32>
// CHECK:         %[[B:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0], [1, 2, 3]] : tensor<5x3x3x3xf32> into tensor<5x27xf32>
// CHECK:         %[[PA:.*]] = linalg.pack %[[A]] padding_value(%{{.*}} : f32) inner_dims_pos = [0, 1] inner_tiles = [8, 1] into %{{.*}} : tensor<32x27xf32> -> tensor<4x27x8x1xf32>
// CHECK:         %[[PB:.*]] = linalg.pack %[[B]] padding_value(%{{.*}} : f32) inner_dims_pos = [0, 1] inner_tiles = [16, 1] into %{{.*}} : tensor<5x27xf32> -> tensor<1x27x16x1xf32>
// CHECK:         %[[ACC:.*]] = linalg.mmt4d ins(%[[PA]], %[[PB]] : tensor<4x27x8x1xf32>, tensor<1x27x16x1xf32>) outs(%{{.*}} : tensor<4x1x8x16xf32>)
// CHECK:         %[[C:.*]] = linalg.unpack %[[ACC]] inner_dims_pos = [0, 1] inner_tiles = [8, 16] into %{{.*}} : tensor<4x1x8x16xf32> -> tensor<32x5xf32>
// CHECK:         %[[ROWS:.*]] = tensor.expand_shape %[[C]] {{\[\[}}0, 1, 2], [3]] output_shape [2, 4, 4, 5]
// CHECK:         %[[Y:.*]] = linalg.generic {{.*}} ins(%[[ROWS]] : tensor<2x4x4x5xf32>) outs(%arg2 : tensor<2x5x4x4xf32>)
// CHECK:           arith.addf
// CHECK:         return %[[Y]]
func.func @forward(%x: tensor<2x3x9x9xf32>, %w: tensor<5x3x3x3xf32>, %bias: tensor<2x5x4x4xf32>) -> tensor<2x5x4x4xf32> {
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<2x3x9x9xf32>, tensor<5x3x3x3xf32>) outs(%bias : tensor<2x5x4x4xf32>) -> tensor<2x5x4x4xf32>
  return %y : tensor<2x5x4x4xf32>
}

// Into the filter: the output gradient as F x (N*OH*OW) times the
// forward's im2col (the same op: CSE shares it), which its pack transposes.
// CHECK-LABEL: func @weight_gradient
// CHECK:         %[[G:.*]] = linalg.transpose ins(%arg1 : tensor<2x5x4x4xf32>) outs(%{{.*}} : tensor<5x2x4x4xf32>) permutation = [1, 0, 2, 3]
// CHECK:         %[[A:.*]] = tensor.collapse_shape %[[G]] {{\[\[}}0], [1, 2, 3]] : tensor<5x2x4x4xf32> into tensor<5x32xf32>
// CHECK:         %[[COLS:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<2x3x9x9xf32>) outs(%{{.*}} : tensor<2x4x4x3x3x3xf32>)
// CHECK:         %[[B:.*]] = tensor.collapse_shape %[[COLS]] {{.*}} into tensor<32x27xf32>
// CHECK:         %[[PA:.*]] = linalg.pack %[[A]] {{.*}} inner_dims_pos = [0, 1] inner_tiles = [8, 1] {{.*}} -> tensor<1x32x8x1xf32>
// CHECK:         %[[PB:.*]] = linalg.pack %[[B]] {{.*}} outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 1] {{.*}} : tensor<32x27xf32> -> tensor<2x32x16x1xf32>
// CHECK:         linalg.mmt4d ins(%[[PA]], %[[PB]] : tensor<1x32x8x1xf32>, tensor<2x32x16x1xf32>)
// CHECK:         linalg.unpack {{.*}} -> tensor<5x27xf32>
// CHECK:         tensor.expand_shape {{.*}} output_shape [5, 3, 3, 3]
func.func @weight_gradient(%x: tensor<2x3x9x9xf32>, %g: tensor<2x5x4x4xf32>) -> tensor<5x3x3x3xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5x3x3x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<5x3x3x3xf32>) -> tensor<5x3x3x3xf32>
  %dw = linalg.generic {indexing_maps = [#image, #output, #filter], iterator_types = ["reduction", "parallel", "reduction", "reduction", "parallel", "parallel", "parallel"]} ins(%x, %g : tensor<2x3x9x9xf32>, tensor<2x5x4x4xf32>) outs(%init : tensor<5x3x3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<5x3x3x3xf32>
  return %dw : tensor<5x3x3x3xf32>
}

// Into the image: the filter as (C*KH*KW) x F (K-major) times the output
// gradient as F x (N*OH*OW) (K-major, the weight gradient's transpose),
// then col2im over loops (n, c, kh, kw, oh, ow): the product's rows and
// the image's both run along ow.
// CHECK-LABEL: func @input_gradient
// CHECK:         %[[G:.*]] = linalg.transpose ins(%arg0 : tensor<2x5x4x4xf32>) {{.*}} permutation = [1, 0, 2, 3]
// CHECK:         %[[GM:.*]] = tensor.collapse_shape %[[G]] {{\[\[}}0], [1, 2, 3]] : tensor<5x2x4x4xf32> into tensor<5x32xf32>
// CHECK:         %[[W:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0], [1, 2, 3]] : tensor<5x3x3x3xf32> into tensor<5x27xf32>
// CHECK:         %[[PW:.*]] = linalg.pack %[[W]] {{.*}} outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [8, 1] {{.*}} -> tensor<4x5x8x1xf32>
// CHECK:         %[[PG:.*]] = linalg.pack %[[GM]] {{.*}} outer_dims_perm = [1, 0] inner_dims_pos = [1, 0] inner_tiles = [16, 1] {{.*}} -> tensor<2x5x16x1xf32>
// CHECK:         linalg.mmt4d ins(%[[PW]], %[[PG]] : tensor<4x5x8x1xf32>, tensor<2x5x16x1xf32>)
// CHECK:         %[[C:.*]] = linalg.unpack {{.*}} -> tensor<27x32xf32>
// CHECK:         %[[CT:.*]] = tensor.expand_shape %[[C]] {{.*}} output_shape [3, 3, 3, 2, 4, 4]
// CHECK:         linalg.generic {indexing_maps = [#[[COLS_MAP]], #[[PIXELS_MAP]]], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction", "reduction"]} ins(%[[CT]] : tensor<3x3x3x2x4x4xf32>) outs(%{{.*}} : tensor<2x3x9x9xf32>)
func.func @input_gradient(%g: tensor<2x5x4x4xf32>, %w: tensor<5x3x3x3xf32>) -> tensor<2x3x9x9xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3x9x9xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3x9x9xf32>) -> tensor<2x3x9x9xf32>
  %dx = linalg.generic {indexing_maps = [#output, #filter, #image], iterator_types = ["parallel", "reduction", "reduction", "reduction", "parallel", "reduction", "reduction"]} ins(%g, %w : tensor<2x5x4x4xf32>, tensor<5x3x3x3xf32>) outs(%init : tensor<2x3x9x9xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<2x3x9x9xf32>
  return %dx : tensor<2x3x9x9xf32>
}

// Not convolutions of f32 in NCHW/FCHW: integer convolutions (qat-compile
// has its own int8 rewrite), grouped convolutions and a product whose body
// is not a multiply-add.
// CHECK-LABEL: func @left_alone
// CHECK:         linalg.conv_2d_nchw_fchw
// CHECK:         linalg.conv_2d_ngchw_gfchw
// CHECK:         linalg.generic
// CHECK-NOT:     linalg.mmt4d
func.func @left_alone(%x: tensor<2x3x9x9xi32>, %w: tensor<5x3x3x3xi32>, %init: tensor<2x5x4x4xi32>,
                      %gx: tensor<1x2x4x6x6xf32>, %gw: tensor<2x3x4x3x3xf32>, %ginit: tensor<1x2x3x4x4xf32>,
                      %fx: tensor<2x3x9x9xf32>, %fw: tensor<5x3x3x3xf32>, %finit: tensor<2x5x4x4xf32>)
    -> (tensor<2x5x4x4xi32>, tensor<1x2x3x4x4xf32>, tensor<2x5x4x4xf32>) {
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<2x3x9x9xi32>, tensor<5x3x3x3xi32>) outs(%init : tensor<2x5x4x4xi32>) -> tensor<2x5x4x4xi32>
  %g = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%gx, %gw : tensor<1x2x4x6x6xf32>, tensor<2x3x4x3x3xf32>) outs(%ginit : tensor<1x2x3x4x4xf32>) -> tensor<1x2x3x4x4xf32>
  %m = linalg.generic {indexing_maps = [#image, #filter, #output], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%fx, %fw : tensor<2x3x9x9xf32>, tensor<5x3x3x3xf32>) outs(%finit : tensor<2x5x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %r = arith.maximumf %a, %b : f32
    %s = arith.addf %acc, %r : f32
    linalg.yield %s : f32
  } -> tensor<2x5x4x4xf32>
  return %y, %g, %m : tensor<2x5x4x4xi32>, tensor<1x2x3x4x4xf32>, tensor<2x5x4x4xf32>
}
