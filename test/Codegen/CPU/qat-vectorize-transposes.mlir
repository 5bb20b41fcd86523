// RUN: qat-opt --qat-vectorize-transposes --split-input-file %s | FileCheck %s

// NHWC to NCHW, added into the output (a GEMM result accumulated into a
// gradient): the output is contiguous along w (28: a tile of 16 rows, then
// 12 under masks), the input along c (16: one 16-lane row per w). Each tile
// is 16 row loads, a transpose lowered to shuffles, and 16 output rows.
// CHECK-LABEL: func.func @nhwc_to_nchw
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     vector.transpose
// CHECK:         scf.for %[[N:.*]] = %c0{{.*}} to %c2
// CHECK:           scf.for %[[H:.*]] = %c0{{.*}} to %c28
// CHECK:             scf.for %[[W:.*]] = %c0{{.*}} to %c16{{.*}} step %c16
// CHECK:               scf.for %[[C:.*]] = %c0{{.*}} to %c16{{.*}} step %c16
// CHECK-COUNT-16:        vector.load %{{.*}} : memref<2x28x28x16xf32>, vector<16xf32>
// CHECK:                 vector.shuffle
// CHECK:                 vector.load %{{.*}}[%[[N]], %[[C]], %[[H]], %[[W]]] : memref<2x16x28x28xf32>, vector<16xf32>
// CHECK:                 arith.addf %{{.*}}, %{{.*}} : vector<16xf32>
// CHECK:                 vector.store %{{.*}}, %{{.*}}[%[[N]], %[[C]], %[[H]], %[[W]]] : memref<2x16x28x28xf32>, vector<16xf32>
// The last 12 rows of w: 12 row loads, output rows under a 12-lane mask.
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c16
// CHECK-COUNT-12:      vector.load %{{.*}} : memref<2x28x28x16xf32>, vector<16xf32>
// CHECK:               vector.constant_mask [12] : vector<16xi1>
// CHECK:               vector.maskedload
// CHECK:               vector.maskedstore
func.func @nhwc_to_nchw(%x: memref<2x28x28x16xf32>, %y: memref<2x16x28x28xf32>) {
  linalg.generic {indexing_maps = [affine_map<(n, c, h, w) -> (n, h, w, c)>, affine_map<(n, c, h, w) -> (n, c, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : memref<2x28x28x16xf32>) outs(%y : memref<2x16x28x28xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// A packing transpose of im2col rows into 8-row panels ([A, 8, K, 1] ->
// [A, K, 8, 1], as linalg.transpose): the output's contiguous loop has 8
// iterations, so a tile is 8 rows of 16 and its columns are 8-lane rows;
// K = 20 leaves a tail of 4 columns (masked loads, 4 output rows). The unit
// dimensions are folded into the contiguous ones.
// CHECK-LABEL: func.func @pack_panels
// CHECK-DAG:     memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<3x8x20x1xf32> into memref<3x8x20xf32>
// CHECK-DAG:     memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<3x20x8x1xf32> into memref<3x20x8xf32>
// CHECK:         scf.for %{{.*}} = %c0{{.*}} to %c3
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c8{{.*}} step %c8
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c16
// CHECK-COUNT-8:       vector.load %{{.*}} : memref<3x8x20xf32>, vector<16xf32>
// CHECK-COUNT-16:      vector.store %{{.*}} : memref<3x20x8xf32>, vector<8xf32>
// CHECK:             vector.constant_mask [4] : vector<16xi1>
// CHECK-COUNT-8:     vector.maskedload %{{.*}} : memref<3x8x20xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK-COUNT-4:     vector.store %{{.*}} : memref<3x20x8xf32>, vector<8xf32>
// CHECK-NOT:         vector.store
// CHECK:         return
func.func @pack_panels(%x: memref<3x8x20x1xf32>, %y: memref<3x20x8x1xf32>) {
  linalg.transpose ins(%x : memref<3x8x20x1xf32>) outs(%y : memref<3x20x8x1xf32>) permutation = [0, 2, 1, 3]
  return
}

// -----

// Left alone: both sides contiguous along the same loop (a copy for
// --qat-vectorize-elementwise), a contiguous loop shorter than 8, i32
// elements, two inputs, a reduction, a broadcast input, and a body that is
// not lane-wise.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT:     vector
// CHECK-COUNT-7: linalg.generic
func.func @left_alone(%a: memref<16x16xf32>, %b: memref<16x16xf32>, %short: memref<16x4xf32>, %shortT: memref<4x16xf32>, %i: memref<16x16xi32>, %iT: memref<16x16xi32>, %row: memref<16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%a : memref<16x16xf32>) outs(%b : memref<16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%short : memref<16x4xf32>) outs(%shortT : memref<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%i : memref<16x16xi32>) outs(%iT : memref<16x16xi32>) {
  ^bb0(%in: i32, %out: i32):
    linalg.yield %in : i32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%a, %a : memref<16x16xf32>, memref<16x16xf32>) outs(%b : memref<16x16xf32>) {
  ^bb0(%in: f32, %in2: f32, %out: f32):
    %0 = arith.addf %in, %in2 : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%a : memref<16x16xf32>) outs(%row : memref<16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (j, i)>], iterator_types = ["parallel", "parallel"]} ins(%row : memref<16xf32>) outs(%b : memref<16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%a : memref<16x16xf32>) outs(%b : memref<16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.constant 2.0 : f32
    %0 = arith.mulf %in, %c : f32
    linalg.yield %0 : f32
  }
  return
}
