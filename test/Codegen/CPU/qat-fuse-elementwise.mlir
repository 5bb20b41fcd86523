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

// A producer with two uses: fused into the first consumer with its result
// kept for the second, which then fuses that op in turn. One pass computes
// both results; the shared value is never written.
// CHECK-LABEL: func.func @two_uses
// CHECK:         %[[BOTH:.*]]:2 = linalg.generic {{.*}} ins(%{{.*}} : tensor<64xf32>)
// CHECK:           %[[NEG:.*]] = arith.negf
// CHECK:           %[[ABS:.*]] = math.absf %[[NEG]]
// CHECK:           %[[EXP:.*]] = math.exp %[[NEG]]
// CHECK:           linalg.yield %[[ABS]], %[[EXP]]
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[BOTH]]#0, %[[BOTH]]#1
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

#row = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (i)>

// Batch norm's forward tail: the normalized input is kept for the gradient
// (here, a sum), the scaled output for ReLU's mask and the ReLU for the next
// layer (both returned here); normalize, scale and ReLU become one op with
// three results, which the later users read.
// CHECK-LABEL: func.func @keeps_producer_results
// CHECK:         %[[ALL:.*]]:3 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8xf32>)
// CHECK:           %[[N:.*]] = arith.mulf
// CHECK:           %[[Y:.*]] = arith.addf %[[N]]
// CHECK:           %[[R:.*]] = arith.maximumf %[[Y]]
// CHECK:           linalg.yield %[[N]], %[[Y]], %[[R]]
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[ALL]]#2, %[[ALL]]#0 : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK:         return %{{.*}}, %[[ALL]]#1, %[[ALL]]#2
func.func @keeps_producer_results(%x: tensor<8x16xf32>, %inv: tensor<8xf32>) -> (tensor<8xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x16xf32>
  %n = linalg.generic {indexing_maps = [#row, #col, #row], iterator_types = ["parallel", "parallel"]} ins(%x, %inv : tensor<8x16xf32>, tensor<8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %0 = arith.mulf %a, %s : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%n : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.addf %a, %one : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %r = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.maximumf %a, %zero : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %acc = tensor.empty() : tensor<8xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%acc : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#row, #row, #col], iterator_types = ["parallel", "reduction"]} ins(%r, %n : tensor<8x16xf32>, tensor<8x16xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %0, %o : f32
    linalg.yield %1 : f32
  } -> tensor<8xf32>
  return %sum, %y, %r : tensor<8xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}

// What stays apart:
// - a producer read before the consumer by another op (the fused op takes
//   the consumer's place, after that read);
// - a consumer that a sum will absorb (the square of batch norm's
//   variance): its result is never written, and keeping the producer's
//   would add a write; upstream fuses the square into the sum;
// - a producer that changes layout (a transpose stays one op).
// CHECK-LABEL: func.func @stays_apart
// CHECK:         %[[D:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8xf32>)
// CHECK:           arith.subf
// CHECK:         } -> tensor<8x16xf32>
// CHECK:         %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[D]] : tensor<8x16xf32>)
// CHECK:           arith.maximumf
// CHECK:         %[[SQUARES:.*]] = linalg.generic {{.*}} ins(%[[D]] : tensor<8x16xf32>)
// CHECK:           %[[SQ:.*]] = arith.mulf %{{.*}}, %{{.*}}
// CHECK:           arith.addf %[[SQ]]
// CHECK:         %[[NEG:.*]] = linalg.generic {{.*}} ins(%[[D]], %[[MAX]] : tensor<8x16xf32>, tensor<8xf32>)
// CHECK:           arith.subf
// CHECK:         %[[T:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<16x8xf32>)
// CHECK:           arith.negf
// CHECK:         %[[U:.*]] = linalg.generic {{.*}} ins(%[[T]] : tensor<8x16xf32>)
// CHECK:           math.absf
// CHECK:         return %[[SQUARES]], %[[NEG]], %[[T]], %[[U]]
func.func @stays_apart(%x: tensor<8x16xf32>, %m: tensor<8xf32>, %xt: tensor<16x8xf32>) -> (tensor<8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x16xf32>
  %d = linalg.generic {indexing_maps = [#row, #col, #row], iterator_types = ["parallel", "parallel"]} ins(%x, %m : tensor<8x16xf32>, tensor<8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %0 = arith.subf %a, %b : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %acc = tensor.empty() : tensor<8xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%acc : tensor<8xf32>) -> tensor<8xf32>
  %max = linalg.generic {indexing_maps = [#row, #col], iterator_types = ["parallel", "reduction"]} ins(%d : tensor<8x16xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.maximumf %a, %o : f32
    linalg.yield %0 : f32
  } -> tensor<8xf32>
  %sq = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%d : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.mulf %a, %a : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %squares = linalg.generic {indexing_maps = [#row, #col], iterator_types = ["parallel", "reduction"]} ins(%sq : tensor<8x16xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.addf %a, %o : f32
    linalg.yield %0 : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #col, #row], iterator_types = ["parallel", "parallel"]} ins(%d, %max : tensor<8x16xf32>, tensor<8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %0 = arith.subf %a, %b : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, #row], iterator_types = ["parallel", "parallel"]} ins(%xt : tensor<16x8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  %u = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%t : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.absf %a : f32
    linalg.yield %0 : f32
  } -> tensor<8x16xf32>
  return %squares, %neg, %t, %u : tensor<8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}

// A transpose of outer dimensions (rows stay contiguous) of an elementwise
// op's only result becomes a generic, and the op fuses into it: batch
// norm's input gradient is written in the layout the weight gradient's
// product reads.
// CHECK-LABEL: func.func @row_transpose
// CHECK:         %[[T:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4x8x16xf32>) outs(%{{.*}} : tensor<8x4x16xf32>)
// CHECK:           arith.negf
// CHECK-NOT:     linalg.transpose
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[T]]
func.func @row_transpose(%x: tensor<4x8x16xf32>) -> tensor<8x4x16xf32> {
  %e = tensor.empty() : tensor<4x8x16xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, j, k)>, affine_map<(i, j, k) -> (i, j, k)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<4x8x16xf32>) outs(%e : tensor<4x8x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  } -> tensor<4x8x16xf32>
  %e1 = tensor.empty() : tensor<8x4x16xf32>
  %t = linalg.transpose ins(%n : tensor<4x8x16xf32>) outs(%e1 : tensor<8x4x16xf32>) permutation = [1, 0, 2]
  return %t : tensor<8x4x16xf32>
}

// A transpose that moves the innermost dimension stays one op (for
// --qat-vectorize-transposes), and so does its producer.
// CHECK-LABEL: func.func @element_transpose
// CHECK:         linalg.generic
// CHECK:           arith.negf
// CHECK:         linalg.transpose
func.func @element_transpose(%x: tensor<4x16xf32>) -> tensor<16x4xf32> {
  %e = tensor.empty() : tensor<4x16xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x16xf32>) outs(%e : tensor<4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.negf %a : f32
    linalg.yield %0 : f32
  } -> tensor<4x16xf32>
  %e1 = tensor.empty() : tensor<16x4xf32>
  %t = linalg.transpose ins(%n : tensor<4x16xf32>) outs(%e1 : tensor<16x4xf32>) permutation = [1, 0]
  return %t : tensor<16x4xf32>
}
