// RUN: qat-opt --qat-interchange-loops %s | FileCheck %s

// The convolution's output width loop (ow) moves innermost; the reduction
// loops (c, kh, kw) keep their order, so every sum is taken in the same order.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d3, d2 + d4, d5 + d6)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d1, d3, d4, d5)>
// CHECK-DAG: #[[DY:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d5)>
// CHECK-DAG: #[[DXW:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 + d3, d4 + d5)>
// CHECK-DAG: #[[STRIDED:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 * 2 + d3)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
// CHECK-LABEL: func.func @conv
// CHECK:         linalg.generic {indexing_maps = [#[[IN]], #[[W]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]}
func.func @conv(%x: tensor<1x3x10x10xf32>, %w: tensor<4x3x3x3xf32>, %o: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
  %0 = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x3x10x10xf32>, tensor<4x3x3x3xf32>) outs(%o : tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %0 : tensor<1x4x8x8xf32>
}

// A matmul becomes (m, k, n): n, contiguous in the output and in B, innermost.
// CHECK-LABEL: func.func @matmul
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x16xf32>) outs(%c : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// A depthwise convolution's input gradient scatters into dx[oh + kh,
// ow + kw]: ow (14 wide, stepping dx's last index by one) moves innermost,
// not kw (3 wide).
// CHECK-LABEL: func.func @scatter
// CHECK:         linalg.generic {indexing_maps = [#[[DY]], #{{.*}}, #[[DXW]]], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction", "reduction"]}
func.func @scatter(%dy: tensor<1x8x14x14xf32>, %w: tensor<8x3x3xf32>, %dx: tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(n, c, oh, ow, kh, kw) -> (n, c, oh, ow)>, affine_map<(n, c, oh, ow, kh, kw) -> (c, kh, kw)>, affine_map<(n, c, oh, ow, kh, kw) -> (n, c, oh + kh, ow + kw)>], iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction", "reduction"]} ins(%dy, %w : tensor<1x8x14x14xf32>, tensor<8x3x3xf32>) outs(%dx : tensor<1x8x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %1 = arith.mulf %a, %b : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<1x8x16x16xf32>
  return %0 : tensor<1x8x16x16xf32>
}

// Elementwise ops, and a stride-2 scatter (dx[ow * 2 + kw]: only kw steps
// it by one, and kw is already innermost), are left alone.
// CHECK-LABEL: func.func @elementwise
// CHECK:         linalg.add
func.func @elementwise(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = linalg.add ins(%a, %a : tensor<4xf32>, tensor<4xf32>) outs(%b : tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// CHECK-LABEL: func.func @strided_scatter
// CHECK:         linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #[[STRIDED]]], iterator_types = ["parallel", "parallel", "reduction", "reduction"]
func.func @strided_scatter(%dy: tensor<1x8x7xf32>, %w: tensor<8x3xf32>, %dx: tensor<1x8x15xf32>) -> tensor<1x8x15xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(n, c, ow, kw) -> (n, c, ow)>, affine_map<(n, c, ow, kw) -> (c, kw)>, affine_map<(n, c, ow, kw) -> (n, c, ow * 2 + kw)>], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%dy, %w : tensor<1x8x7xf32>, tensor<8x3xf32>) outs(%dx : tensor<1x8x15xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %1 = arith.mulf %a, %b : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  } -> tensor<1x8x15xf32>
  return %0 : tensor<1x8x15xf32>
}
