// RUN: qat-opt --qat-fuse-elementwise %s | FileCheck %s

#id = affine_map<(n, c, h, w) -> (n, c, h, w)>
#channel = affine_map<(n, c, h, w) -> (0, c, 0, 0)>

// Batch norm's normalization: rsqrt(var + eps) is computed per channel and
// read through a broadcast, so it stays its own op (fused, it would run once
// per element); the per-element chain (x - mean) * inv * gamma is one op.
// CHECK-LABEL: func.func @batch_norm
// CHECK:         %[[INV:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<1x16x1x1xf32>)
// CHECK:           arith.addf
// CHECK:           math.rsqrt
// CHECK:         } -> tensor<1x16x1x1xf32>
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[INV]], %{{.*}} : tensor<4x16x8x8xf32>, tensor<1x16x1x1xf32>, tensor<1x16x1x1xf32>, tensor<1x16x1x1xf32>)
// CHECK-NOT:       math.rsqrt
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf
// CHECK:         } -> tensor<4x16x8x8xf32>
// CHECK-NOT:     linalg.generic
func.func @batch_norm(%x: tensor<4x16x8x8xf32>, %mean: tensor<1x16x1x1xf32>, %var: tensor<1x16x1x1xf32>, %gamma: tensor<1x16x1x1xf32>) -> tensor<4x16x8x8xf32> {
  %eps = arith.constant 1.0e-5 : f32
  %e1 = tensor.empty() : tensor<1x16x1x1xf32>
  %inv = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%var : tensor<1x16x1x1xf32>) outs(%e1 : tensor<1x16x1x1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %0 = arith.addf %v, %eps : f32
    %1 = math.rsqrt %0 : f32
    linalg.yield %1 : f32
  } -> tensor<1x16x1x1xf32>
  %e = tensor.empty() : tensor<4x16x8x8xf32>
  %centered = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x, %mean : tensor<4x16x8x8xf32>, tensor<1x16x1x1xf32>) outs(%e : tensor<4x16x8x8xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %0 = arith.subf %a, %m : f32
    linalg.yield %0 : f32
  } -> tensor<4x16x8x8xf32>
  %normalized = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%centered, %inv : tensor<4x16x8x8xf32>, tensor<1x16x1x1xf32>) outs(%e : tensor<4x16x8x8xf32>) {
  ^bb0(%a: f32, %i: f32, %o: f32):
    %0 = arith.mulf %a, %i : f32
    linalg.yield %0 : f32
  } -> tensor<4x16x8x8xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%normalized, %gamma : tensor<4x16x8x8xf32>, tensor<1x16x1x1xf32>) outs(%e : tensor<4x16x8x8xf32>) {
  ^bb0(%a: f32, %g: f32, %o: f32):
    %0 = arith.mulf %a, %g : f32
    linalg.yield %0 : f32
  } -> tensor<4x16x8x8xf32>
  return %scaled : tensor<4x16x8x8xf32>
}

// A producer that only copies (a broadcast) is fused through the broadcast.
// CHECK-LABEL: func.func @plain_broadcast
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<4x16x8x8xf32>, tensor<1x16x1x1xf32>)
// CHECK:           arith.mulf
// CHECK-NOT:     linalg.generic
func.func @plain_broadcast(%x: tensor<4x16x8x8xf32>, %scale: tensor<1x16x1x1xf32>) -> tensor<4x16x8x8xf32> {
  %e1 = tensor.empty() : tensor<1x16x1x1xf32>
  %copy = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%scale : tensor<1x16x1x1xf32>) outs(%e1 : tensor<1x16x1x1xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  } -> tensor<1x16x1x1xf32>
  %e = tensor.empty() : tensor<4x16x8x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #channel, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x, %copy : tensor<4x16x8x8xf32>, tensor<1x16x1x1xf32>) outs(%e : tensor<4x16x8x8xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %0 = arith.mulf %a, %s : f32
    linalg.yield %0 : f32
  } -> tensor<4x16x8x8xf32>
  return %y : tensor<4x16x8x8xf32>
}

// A producer with two uses is not fused (upstream's rule, kept).
// CHECK-LABEL: func.func @two_uses
// CHECK-COUNT-3: linalg.generic
func.func @two_uses(%x: tensor<64xf32>) -> (tensor<64xf32>, tensor<64xf32>) {
  %e = tensor.empty() : tensor<64xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%x : tensor<64xf32>) outs(%e : tensor<64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  } -> tensor<64xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%n : tensor<64xf32>) outs(%e : tensor<64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %0 = math.absf %v : f32
    linalg.yield %0 : f32
  } -> tensor<64xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]} ins(%n : tensor<64xf32>) outs(%e : tensor<64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %0 = math.exp %v : f32
    linalg.yield %0 : f32
  } -> tensor<64xf32>
  return %a, %b : tensor<64xf32>, tensor<64xf32>
}
