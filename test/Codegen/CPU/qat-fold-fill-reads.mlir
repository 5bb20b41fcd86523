// RUN: qat-opt --qat-fold-fill-reads %s | FileCheck %s

// A product's accumulator in the unpacked layout (what
// --qat-fold-mmt4d-packs leaves): the layout change adds the product to a
// zero fill. It adds the constant instead, into a fresh tensor; the fill
// goes.
#nhwc_to_nchw = affine_map<(n, c, h, w) -> (n, h, w, c)>
#nchw = affine_map<(n, c, h, w) -> (n, c, h, w)>
// CHECK-LABEL: func.func @unpacked_accumulator
// CHECK-SAME:    (%[[PRODUCT:.*]]: tensor<2x4x4x16xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         %[[EMPTY:.*]] = tensor.empty() : tensor<2x16x4x4xf32>
// CHECK:         linalg.generic {{.*}} ins(%[[PRODUCT]] : tensor<2x4x4x16xf32>) outs(%[[EMPTY]] : tensor<2x16x4x4xf32>)
// CHECK:         ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// CHECK:           %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:           %[[SUM:.*]] = arith.addf %[[ZERO]], %[[IN]] : f32
// CHECK:           linalg.yield %[[SUM]]
func.func @unpacked_accumulator(%product: tensor<2x4x4x16xf32>) -> tensor<2x16x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<2x16x4x4xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x16x4x4xf32>) -> tensor<2x16x4x4xf32>
  %r = linalg.generic {indexing_maps = [#nhwc_to_nchw, #nchw], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%product : tensor<2x4x4x16xf32>) outs(%fill : tensor<2x16x4x4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<2x16x4x4xf32>
  return %r : tensor<2x16x4x4xf32>
}

// With another use the fill stays for it; the generic still reads the
// constant.
// CHECK-LABEL: func.func @fill_used_elsewhere
// CHECK:         %[[FILL:.*]] = linalg.fill
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<8xf32>)
// CHECK:           arith.constant 1.000000e+00 : f32
// CHECK:         return %{{.*}}, %[[FILL]]
#id = affine_map<(i) -> (i)>
func.func @fill_used_elsewhere(%x: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %one = arith.constant 1.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %fill = linalg.fill ins(%one : f32) outs(%empty : tensor<8xf32>) -> tensor<8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.mulf %acc, %in : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  return %r, %fill : tensor<8xf32>, tensor<8xf32>
}

// A reduction reads its destination as a running sum, not the fill once;
// a fill of a runtime value has no constant to read. Both stay.
// CHECK-LABEL: func.func @left_alone
// CHECK:         linalg.fill
// CHECK:         linalg.generic
// CHECK:           arith.addf %{{.*}}, %{{.*}} : f32
// CHECK:         linalg.fill
// CHECK:         linalg.generic
// CHECK-NOT:       arith.constant
// CHECK:         return
#rows = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
func.func @left_alone(%x: tensor<8x4xf32>, %y: tensor<8xf32>, %v: f32) -> (tensor<8xf32>, tensor<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%empty : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<8x4xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %runtime = linalg.fill ins(%v : f32) outs(%empty : tensor<8xf32>) -> tensor<8xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%y : tensor<8xf32>) outs(%runtime : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.mulf %acc, %in : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  return %sum, %scaled : tensor<8xf32>, tensor<8xf32>
}

// One fill (as CSE leaves it) read by two ops: both read the constant and
// the fill goes once.
// CHECK-LABEL: func.func @shared_fill
// CHECK-NOT:     linalg.fill
// CHECK-COUNT-2: arith.constant 2.000000e+00 : f32
// CHECK-NOT:     linalg.fill
// CHECK:         return
func.func @shared_fill(%x: tensor<8xf32>, %y: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %two = arith.constant 2.0 : f32
  %empty = tensor.empty() : tensor<8xf32>
  %fill = linalg.fill ins(%two : f32) outs(%empty : tensor<8xf32>) -> tensor<8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.mulf %acc, %in : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%y : tensor<8xf32>) outs(%fill : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %acc, %in : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  return %a, %b : tensor<8xf32>, tensor<8xf32>
}
